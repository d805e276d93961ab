"""Model index: convmixer (names, published top-1 and weights from MMPretrain's model zoo; the weights are
the authors', converted by MMPretrain).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes: its counter skips convolutions with
``padding='same'`` (an operator it does not know), so it leaves out every depthwise conv and is
0.40 to 2.39 G lower.
"""

_PAPER = 'Patches Are All You Need?'
_URL = 'https://download.openmmlab.com/mmclassification/v0/convmixer/'

ENTRIES = [
    dict(name='convmixer-768-32_3rdparty_in1k', config='convmixer/convmixer-768-32_10xb64_in1k.py',
         task='Image Classification', params_m=21.11, flops_g=20.677, mmpretrain_flops_g=19.623, input_size=224,
         top1=80.16, dataset='ImageNet-1k', paper=_PAPER,
         weights={'url': _URL + 'convmixer-768-32_3rdparty_10xb64_in1k_20220323-bca1f7b8.pth', 'sha256': 'bca1f7b8',
                  'source': 'mmpretrain'}),
    dict(name='convmixer-1024-20_3rdparty_in1k', config='convmixer/convmixer-1024-20_10xb64_in1k.py',
         task='Image Classification', params_m=24.38, flops_g=5.949, mmpretrain_flops_g=5.550, input_size=224,
         top1=76.94, dataset='ImageNet-1k', paper=_PAPER,
         weights={'url': _URL + 'convmixer-1024-20_3rdparty_10xb64_in1k_20220323-48f8aeba.pth', 'sha256': '48f8aeba',
                  'source': 'mmpretrain'}),
    dict(name='convmixer-1536-20_3rdparty_in1k', config='convmixer/convmixer-1536-20_10xb64_in1k.py',
         task='Image Classification', params_m=51.63, flops_g=51.099, mmpretrain_flops_g=48.713, input_size=224,
         top1=81.37, dataset='ImageNet-1k', paper=_PAPER,
         weights={'url': _URL + 'convmixer-1536_20_3rdparty_10xb64_in1k_20220323-ea5786f3.pth', 'sha256': 'ea5786f3',
                  'source': 'mmpretrain'}),
]
