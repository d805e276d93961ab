"""Model index: alexnet (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
"""

ENTRIES = [
    dict(
        name='alexnet_8xb32_in1k',
        config='alexnet/alexnet_8xb32_in1k.py',
        task='Image Classification',
        params_m=61.1,
        flops_g=0.714,
        mmpretrain_flops_g=None,
        input_size=224,
        top1=None,
        dataset='ImageNet-1k',
        paper='ImageNet Classification with Deep Convolutional Neural Networks',
        weights=None,
    ),
]
