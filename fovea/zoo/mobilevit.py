"""Model index: mobilevit (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`, on CPU,
where fused scaled-dot-product attention is not counted, as in the timm-measured figures);
``mmpretrain_flops_g`` is the figure MMPretrain publishes (its counter includes attention).
"""

ENTRIES = [
    dict(
        name='mobilevit-small_3rdparty_in1k',
        config='mobilevit/mobilevit-small_8xb128_in1k.py',
        task='Image Classification',
        params_m=5.58,
        flops_g=1.823,
        mmpretrain_flops_g=2.03,
        input_size=256,
        top1=78.25,
        dataset='ImageNet-1k',
        paper='MobileViT: Light-weight, General-purpose, and Mobile-friendly Vision Transformer',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/mobilevit/mobilevit-small_3rdparty_in1k_20221018-cb4f741c.pth', 'sha256': 'cb4f741c', 'source': 'mmpretrain'},
    ),
    dict(
        name='mobilevit-xsmall_3rdparty_in1k',
        config='mobilevit/mobilevit-xsmall_8xb128_in1k.py',
        task='Image Classification',
        params_m=2.32,
        flops_g=0.909,
        mmpretrain_flops_g=1.05,
        input_size=256,
        top1=74.75,
        dataset='ImageNet-1k',
        paper='MobileViT: Light-weight, General-purpose, and Mobile-friendly Vision Transformer',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/mobilevit/mobilevit-xsmall_3rdparty_in1k_20221018-be39a6e7.pth', 'sha256': 'be39a6e7', 'source': 'mmpretrain'},
    ),
    dict(
        name='mobilevit-xxsmall_3rdparty_in1k',
        config='mobilevit/mobilevit-xxsmall_8xb128_in1k.py',
        task='Image Classification',
        params_m=1.27,
        flops_g=0.329,
        mmpretrain_flops_g=0.42,
        input_size=256,
        top1=69.02,
        dataset='ImageNet-1k',
        paper='MobileViT: Light-weight, General-purpose, and Mobile-friendly Vision Transformer',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/mobilevit/mobilevit-xxsmall_3rdparty_in1k_20221018-77835605.pth', 'sha256': '77835605', 'source': 'mmpretrain'},
    ),
]
