"""Model index: vision_transformer (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`, on CPU,
where fused scaled-dot-product attention is not counted, as in the timm-measured figures);
``mmpretrain_flops_g`` is the figure MMPretrain publishes (its counter includes attention).
"""

ENTRIES = [
    dict(
        name='vit-base-p32_in21k-pre_3rdparty_in1k-384px',
        config='vision_transformer/vit-base-p32_64xb64_in1k-384px.py',
        task='Image Classification',
        params_m=88.3,
        flops_g=12.656,
        mmpretrain_flops_g=13.06,
        input_size=384,
        top1=84.01,
        dataset='ImageNet-1k',
        paper='An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/vit/finetune/vit-base-p32_in21k-pre-3rdparty_ft-64xb64_in1k-384_20210928-9cea8599.pth', 'sha256': '9cea8599', 'source': 'mmpretrain'},
    ),
    dict(
        name='vit-base-p16_in21k-pre_3rdparty_in1k-384px',
        config='vision_transformer/vit-base-p16_64xb64_in1k-384px.py',
        task='Image Classification',
        params_m=86.86,
        flops_g=49.348,
        mmpretrain_flops_g=55.54,
        input_size=384,
        top1=85.43,
        dataset='ImageNet-1k',
        paper='An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/vit/finetune/vit-base-p16_in21k-pre-3rdparty_ft-64xb64_in1k-384_20210928-98e8652b.pth', 'sha256': '98e8652b', 'source': 'mmpretrain'},
    ),
    dict(
        name='vit-large-p16_in21k-pre_3rdparty_in1k-384px',
        config='vision_transformer/vit-large-p16_64xb64_in1k-384px.py',
        task='Image Classification',
        params_m=304.72,
        flops_g=174.702,
        mmpretrain_flops_g=191.21,
        input_size=384,
        top1=85.63,
        dataset='ImageNet-1k',
        paper='An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/vit/finetune/vit-large-p16_in21k-pre-3rdparty_ft-64xb64_in1k-384_20210928-b20ba619.pth', 'sha256': 'b20ba619', 'source': 'mmpretrain'},
    ),
]
