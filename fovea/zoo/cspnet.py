"""Model index: cspnet (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
``flops_g`` is at the evaluation size (256 px for CSPDarkNet and CSPResNet); MMPretrain's figure is at
224 px (fovea counts 5.00 and 3.46 GMACs there). timm's cspdarknet53 / cspresnet50 / cspresnext50 (the published weights' source) convert.
"""

ENTRIES = [
    dict(
        name='cspdarknet50_3rdparty_8xb32_in1k',
        config='cspnet/cspdarknet50_8xb32_in1k.py',
        task='Image Classification',
        params_m=27.64,
        flops_g=6.534,
        mmpretrain_flops_g=5.040,
        input_size=256,
        top1=80.05,
        dataset='ImageNet-1k',
        paper='CSPNet: A New Backbone that can Enhance Learning Capability of CNN',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/cspnet/cspdarknet50_3rdparty_8xb32_in1k_20220329-bd275287.pth', 'sha256': 'bd275287', 'source': 'mmpretrain'},
    ),
    dict(
        name='cspresnet50_3rdparty_8xb32_in1k',
        config='cspnet/cspresnet50_8xb32_in1k.py',
        task='Image Classification',
        params_m=21.62,
        flops_g=4.517,
        mmpretrain_flops_g=3.480,
        input_size=256,
        top1=79.55,
        dataset='ImageNet-1k',
        paper='CSPNet: A New Backbone that can Enhance Learning Capability of CNN',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/cspnet/cspresnet50_3rdparty_8xb32_in1k_20220329-dd6dddfb.pth', 'sha256': 'dd6dddfb', 'source': 'mmpretrain'},
    ),
    dict(
        name='cspresnext50_3rdparty_8xb32_in1k',
        config='cspnet/cspresnext50_8xb32_in1k.py',
        task='Image Classification',
        params_m=20.57,
        flops_g=3.074,
        mmpretrain_flops_g=3.110,
        input_size=224,
        top1=79.96,
        dataset='ImageNet-1k',
        paper='CSPNet: A New Backbone that can Enhance Learning Capability of CNN',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/cspnet/cspresnext50_3rdparty_8xb32_in1k_20220329-2cc84d21.pth', 'sha256': '2cc84d21', 'source': 'mmpretrain'},
    ),
]

