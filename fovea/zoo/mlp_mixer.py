"""Model index: mlp_mixer (names, published top-1 and weights from MMPretrain's model zoo; the weights are
timm's ports of the JAX checkpoints, converted by MMPretrain).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes.
"""

_PAPER = 'MLP-Mixer: An all-MLP Architecture for Vision'
_URL = 'https://download.openmmlab.com/mmclassification/v0/mlp-mixer/'

ENTRIES = [
    dict(name='mlp-mixer-base-p16_3rdparty_64xb64_in1k', config='mlp_mixer/mlp-mixer-base-p16_64xb64_in1k.py',
         task='Image Classification', params_m=59.88, flops_g=12.602, mmpretrain_flops_g=12.61, input_size=224,
         top1=76.68, dataset='ImageNet-1k', paper=_PAPER,
         weights={'url': _URL + 'mixer-base-p16_3rdparty_64xb64_in1k_20211124-1377e3e0.pth', 'sha256': '1377e3e0',
                  'source': 'mmpretrain'}),
    dict(name='mlp-mixer-large-p16_3rdparty_64xb64_in1k', config='mlp_mixer/mlp-mixer-large-p16_64xb64_in1k.py',
         task='Image Classification', params_m=208.20, flops_g=44.548, mmpretrain_flops_g=44.57, input_size=224,
         top1=72.34, dataset='ImageNet-1k', paper=_PAPER,
         weights={'url': _URL + 'mixer-large-p16_3rdparty_64xb64_in1k_20211124-5a2519d2.pth', 'sha256': '5a2519d2',
                  'source': 'mmpretrain'}),
]
