"""Model index: mobileone (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
MobileOne configs build the training form; MMPretrain publishes the parameters and FLOPs of the
re-parameterised (deploy) form, which `switch_to_deploy()` and the deploy/ configs give.
"""

ENTRIES = [
    dict(
        name='mobileone-s0_8xb32_in1k',
        config='mobileone/mobileone-s0_8xb32_in1k.py',
        task='Image Classification',
        params_m=5.29,
        flops_g=1.052,
        mmpretrain_flops_g=0.274,
        input_size=224,
        top1=71.34,
        dataset='ImageNet-1k',
        paper='An Improved One millisecond Mobile Backbone',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/mobileone/mobileone-s0_8xb32_in1k_20221110-0bc94952.pth', 'sha256': '0bc94952', 'source': 'mmpretrain'},
    ),
    dict(
        name='mobileone-s1_8xb32_in1k',
        config='mobileone/mobileone-s1_8xb32_in1k.py',
        task='Image Classification',
        params_m=4.83,
        flops_g=0.830,
        mmpretrain_flops_g=0.824,
        input_size=224,
        top1=75.72,
        dataset='ImageNet-1k',
        paper='An Improved One millisecond Mobile Backbone',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/mobileone/mobileone-s1_8xb32_in1k_20221110-ceeef467.pth', 'sha256': 'ceeef467', 'source': 'mmpretrain'},
    ),
    dict(
        name='mobileone-s2_8xb32_in1k',
        config='mobileone/mobileone-s2_8xb32_in1k.py',
        task='Image Classification',
        params_m=7.88,
        flops_g=1.304,
        mmpretrain_flops_g=1.296,
        input_size=224,
        top1=77.37,
        dataset='ImageNet-1k',
        paper='An Improved One millisecond Mobile Backbone',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/mobileone/mobileone-s2_8xb32_in1k_20221110-9c7ecb97.pth', 'sha256': '9c7ecb97', 'source': 'mmpretrain'},
    ),
    dict(
        name='mobileone-s3_8xb32_in1k',
        config='mobileone/mobileone-s3_8xb32_in1k.py',
        task='Image Classification',
        params_m=10.17,
        flops_g=1.902,
        mmpretrain_flops_g=1.894,
        input_size=224,
        top1=78.06,
        dataset='ImageNet-1k',
        paper='An Improved One millisecond Mobile Backbone',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/mobileone/mobileone-s3_8xb32_in1k_20221110-c95eb3bf.pth', 'sha256': 'c95eb3bf', 'source': 'mmpretrain'},
    ),
    dict(
        name='mobileone-s4_8xb32_in1k',
        config='mobileone/mobileone-s4_8xb32_in1k.py',
        task='Image Classification',
        params_m=14.95,
        flops_g=2.987,
        mmpretrain_flops_g=2.979,
        input_size=224,
        top1=79.69,
        dataset='ImageNet-1k',
        paper='An Improved One millisecond Mobile Backbone',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/mobileone/mobileone-s4_8xb32_in1k_20221110-28d888cb.pth', 'sha256': '28d888cb', 'source': 'mmpretrain'},
    ),
]

