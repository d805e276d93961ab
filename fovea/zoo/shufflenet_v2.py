"""Model index: shufflenet_v2 (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
"""

ENTRIES = [
    dict(
        name='shufflenet-v2-1x_16xb64_in1k',
        config='shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py',
        task='Image Classification',
        params_m=2.28,
        flops_g=0.145,
        mmpretrain_flops_g=0.149,
        input_size=224,
        top1=69.55,
        dataset='ImageNet-1k',
        paper='ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/shufflenet_v2/shufflenet_v2_batch1024_imagenet_20200812-5bf4721e.pth', 'sha256': '5bf4721e', 'source': 'mmpretrain'},
    ),
]
