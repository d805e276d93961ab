"""Model index: shufflenet_v1 (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
"""

ENTRIES = [
    dict(
        name='shufflenet-v1-1x_16xb64_in1k',
        config='shufflenet_v1/shufflenet-v1-1x_16xb64_in1k.py',
        task='Image Classification',
        params_m=1.87,
        flops_g=0.137,
        mmpretrain_flops_g=0.146,
        input_size=224,
        top1=68.13,
        dataset='ImageNet-1k',
        paper='ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile Devices',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/shufflenet_v1/shufflenet_v1_batch1024_imagenet_20200804-5d6cec73.pth', 'sha256': '5d6cec73', 'source': 'mmpretrain'},
    ),
]
