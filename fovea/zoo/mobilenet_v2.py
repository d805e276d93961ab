"""Model index: mobilenet_v2 (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
"""

ENTRIES = [
    dict(
        name='mobilenet-v2_8xb32_in1k',
        config='mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
        task='Image Classification',
        params_m=3.5,
        flops_g=0.301,
        mmpretrain_flops_g=0.319,
        input_size=224,
        top1=71.86,
        dataset='ImageNet-1k',
        paper='MobileNetV2: Inverted Residuals and Linear Bottlenecks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth', 'sha256': '3b2dc3af', 'source': 'mmpretrain'},
    ),
]
