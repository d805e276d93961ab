"""Model index: van (names, published top-1 and weights from MMPretrain's model zoo; the weights are the
authors', converted by MMPretrain).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes.
"""

_PAPER = 'Visual Attention Network'
_URL = 'https://download.openmmlab.com/mmclassification/v0/van/'


def _entry(size: str, params_m: float, flops_g: float, published_g: float, top1: float, stamp: str) -> dict:
    return dict(name=f'van-{size}_3rdparty_in1k', config=f'van/van-{size}_8xb128_in1k.py', task='Image Classification',
                params_m=params_m, flops_g=flops_g, mmpretrain_flops_g=published_g, input_size=224, top1=top1,
                dataset='ImageNet-1k', paper=_PAPER,
                weights={'url': f'{_URL}van-{size}_8xb128_in1k_{stamp}.pth', 'sha256': stamp.split('-')[1],
                         'source': 'mmpretrain'})


ENTRIES = [
    _entry('tiny', 4.11, 0.864, 0.88, 75.41, '20220501-385941af'),
    _entry('small', 13.86, 2.495, 2.52, 81.01, '20220501-17bc91aa'),
    _entry('base', 26.58, 4.993, 5.03, 82.80, '20220501-6a4cc31b'),
    _entry('large', 44.77, 8.925, 8.99, 83.86, '20220501-f212ba21'),
]
