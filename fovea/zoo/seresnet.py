"""Model index: seresnet (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
"""

ENTRIES = [
    dict(
        name='seresnet101_8xb32_in1k',
        config='seresnet/seresnet101_8xb32_in1k.py',
        task='Image Classification',
        params_m=49.33,
        flops_g=7.806,
        mmpretrain_flops_g=7.86,
        input_size=224,
        top1=78.26,
        dataset='ImageNet-1k',
        paper='Squeeze-and-Excitation Networks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/se-resnet/se-resnet101_batch256_imagenet_20200804-ba5b51d4.pth', 'sha256': 'ba5b51d4', 'source': 'mmpretrain'},
    ),
    dict(
        name='seresnet50_8xb32_in1k',
        config='seresnet/seresnet50_8xb32_in1k.py',
        task='Image Classification',
        params_m=28.09,
        flops_g=4.092,
        mmpretrain_flops_g=4.13,
        input_size=224,
        top1=77.74,
        dataset='ImageNet-1k',
        paper='Squeeze-and-Excitation Networks',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/se-resnet/se-resnet50_batch256_imagenet_20200804-ae206104.pth', 'sha256': 'ae206104', 'source': 'mmpretrain'},
    ),
    dict(
        name='seresnext101-32x4d_8xb32_in1k',
        config='seresnet/seresnext101-32x4d_8xb32_in1k.py',
        task='Image Classification',
        params_m=48.96,
        flops_g=7.975,
        mmpretrain_flops_g=None,
        input_size=224,
        top1=None,
        dataset='ImageNet-1k',
        paper='Squeeze-and-Excitation Networks',
        weights=None,
    ),
    dict(
        name='seresnext50-32x4d_8xb32_in1k',
        config='seresnet/seresnext50-32x4d_8xb32_in1k.py',
        task='Image Classification',
        params_m=27.56,
        flops_g=4.233,
        mmpretrain_flops_g=None,
        input_size=224,
        top1=None,
        dataset='ImageNet-1k',
        paper='Squeeze-and-Excitation Networks',
        weights=None,
    ),
]
