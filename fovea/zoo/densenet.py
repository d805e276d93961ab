"""Model index: densenet (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
"""

ENTRIES = [
    dict(
        name='densenet121_3rdparty_in1k',
        config='densenet/densenet121_4xb256_in1k.py',
        task='Image Classification',
        params_m=7.98,
        flops_g=2.834,
        mmpretrain_flops_g=2.88,
        input_size=224,
        top1=74.96,
        dataset='ImageNet-1k',
        paper='Densely Connected Convolutional Networks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/densenet/densenet121_4xb256_in1k_20220426-07450f99.pth', 'sha256': '07450f99', 'source': 'mmpretrain'},
    ),
    dict(
        name='densenet161_3rdparty_in1k',
        config='densenet/densenet161_4xb256_in1k.py',
        task='Image Classification',
        params_m=28.68,
        flops_g=7.728,
        mmpretrain_flops_g=7.82,
        input_size=224,
        top1=77.61,
        dataset='ImageNet-1k',
        paper='Densely Connected Convolutional Networks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/densenet/densenet161_4xb256_in1k_20220426-ee6a80a9.pth', 'sha256': 'ee6a80a9', 'source': 'mmpretrain'},
    ),
    dict(
        name='densenet169_3rdparty_in1k',
        config='densenet/densenet169_4xb256_in1k.py',
        task='Image Classification',
        params_m=14.15,
        flops_g=3.36,
        mmpretrain_flops_g=3.42,
        input_size=224,
        top1=76.08,
        dataset='ImageNet-1k',
        paper='Densely Connected Convolutional Networks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/densenet/densenet169_4xb256_in1k_20220426-a2889902.pth', 'sha256': 'a2889902', 'source': 'mmpretrain'},
    ),
    dict(
        name='densenet201_3rdparty_in1k',
        config='densenet/densenet201_4xb256_in1k.py',
        task='Image Classification',
        params_m=20.01,
        flops_g=4.291,
        mmpretrain_flops_g=4.37,
        input_size=224,
        top1=77.32,
        dataset='ImageNet-1k',
        paper='Densely Connected Convolutional Networks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/densenet/densenet201_4xb256_in1k_20220426-05cae4ef.pth', 'sha256': '05cae4ef', 'source': 'mmpretrain'},
    ),
]
