"""Model index: res2net (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
timm's res2net50_14w_8s / res2net50_26w_8s / res2net101_26w_4s convert through the ResNet converter (the
block names are the same).
"""

ENTRIES = [
    dict(
        name='res2net50-w14-s8_3rdparty_8xb32_in1k',
        config='res2net/res2net50-w14-s8_8xb32_in1k.py',
        task='Image Classification',
        params_m=25.06,
        flops_g=4.179,
        mmpretrain_flops_g=4.220,
        input_size=224,
        top1=78.14,
        dataset='ImageNet-1k',
        paper='Res2Net: A New Multi-scale Backbone Architecture',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/res2net/res2net50-w14-s8_3rdparty_8xb32_in1k_20210927-bc967bf1.pth', 'sha256': 'bc967bf1', 'source': 'mmpretrain'},
    ),
    dict(
        name='res2net50-w26-s8_3rdparty_8xb32_in1k',
        config='res2net/res2net50-w26-s8_8xb32_in1k.py',
        task='Image Classification',
        params_m=48.40,
        flops_g=8.336,
        mmpretrain_flops_g=8.390,
        input_size=224,
        top1=79.2,
        dataset='ImageNet-1k',
        paper='Res2Net: A New Multi-scale Backbone Architecture',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/res2net/res2net50-w26-s8_3rdparty_8xb32_in1k_20210927-f547a94b.pth', 'sha256': 'f547a94b', 'source': 'mmpretrain'},
    ),
    dict(
        name='res2net101-w26-s4_3rdparty_8xb32_in1k',
        config='res2net/res2net101-w26-s4_8xb32_in1k.py',
        task='Image Classification',
        params_m=45.21,
        flops_g=8.067,
        mmpretrain_flops_g=8.120,
        input_size=224,
        top1=79.19,
        dataset='ImageNet-1k',
        paper='Res2Net: A New Multi-scale Backbone Architecture',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/res2net/res2net101-w26-s4_3rdparty_8xb32_in1k_20210927-870b6c36.pth', 'sha256': '870b6c36', 'source': 'mmpretrain'},
    ),
]

