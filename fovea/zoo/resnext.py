"""Model index: resnext (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
"""

ENTRIES = [
    dict(
        name='resnext101-32x4d_8xb32_in1k',
        config='resnext/resnext101-32x4d_8xb32_in1k.py',
        task='Image Classification',
        params_m=44.18,
        flops_g=7.97,
        mmpretrain_flops_g=8.03,
        input_size=224,
        top1=78.61,
        dataset='ImageNet-1k',
        paper='Aggregated Residual Transformations for Deep Neural Networks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/resnext/resnext101_32x4d_b32x8_imagenet_20210506-e0fa3dd5.pth', 'sha256': 'e0fa3dd5', 'source': 'mmpretrain'},
    ),
    dict(
        name='resnext101-32x8d_8xb32_in1k',
        config='resnext/resnext101-32x8d_8xb32_in1k.py',
        task='Image Classification',
        params_m=88.79,
        flops_g=16.414,
        mmpretrain_flops_g=16.5,
        input_size=224,
        top1=79.27,
        dataset='ImageNet-1k',
        paper='Aggregated Residual Transformations for Deep Neural Networks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/resnext/resnext101_32x8d_b32x8_imagenet_20210506-23a247d5.pth', 'sha256': '23a247d5', 'source': 'mmpretrain'},
    ),
    dict(
        name='resnext152-32x4d_8xb32_in1k',
        config='resnext/resnext152-32x4d_8xb32_in1k.py',
        task='Image Classification',
        params_m=59.95,
        flops_g=11.71,
        mmpretrain_flops_g=11.8,
        input_size=224,
        top1=78.88,
        dataset='ImageNet-1k',
        paper='Aggregated Residual Transformations for Deep Neural Networks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/resnext/resnext152_32x4d_b32x8_imagenet_20210524-927787be.pth', 'sha256': '927787be', 'source': 'mmpretrain'},
    ),
    dict(
        name='resnext50-32x4d_8xb32_in1k',
        config='resnext/resnext50-32x4d_8xb32_in1k.py',
        task='Image Classification',
        params_m=25.03,
        flops_g=4.23,
        mmpretrain_flops_g=4.27,
        input_size=224,
        top1=77.9,
        dataset='ImageNet-1k',
        paper='Aggregated Residual Transformations for Deep Neural Networks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/resnext/resnext50_32x4d_b32x8_imagenet_20210429-56066e27.pth', 'sha256': '56066e27', 'source': 'mmpretrain'},
    ),
]
