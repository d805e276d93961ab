"""Model index: googlenet (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
"""

ENTRIES = [
    dict(
        name='googlenet_8xb32_in1k',
        config='googlenet/googlenet_8xb32_in1k.py',
        task='Image Classification',
        params_m=6.62,
        flops_g=1.498,
        mmpretrain_flops_g=None,
        input_size=224,
        top1=None,
        dataset='ImageNet-1k',
        paper='Going Deeper with Convolutions',
        weights=None,
    ),
]
