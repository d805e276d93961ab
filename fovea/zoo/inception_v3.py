"""Model index: inception_v3 (names, published top-1 and weights from MMPretrain's model zoo).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
"""

ENTRIES = [
    dict(
        name='inception-v3_3rdparty_8xb32_in1k',
        config='inception_v3/inception-v3_8xb32_in1k.py',
        task='Image Classification',
        params_m=23.83,
        flops_g=5.713,
        mmpretrain_flops_g=5.75,
        input_size=299,
        top1=77.57,
        dataset='ImageNet-1k',
        paper='Rethinking the Inception Architecture for Computer Vision',
        weights={'url': 'https://download.openmmlab.com/mmclassification/v0/inception-v3/inception-v3_3rdparty_8xb32_in1k_20220615-dcd4d910.pth', 'sha256': 'dcd4d910', 'source': 'mmpretrain'},
    ),
]
