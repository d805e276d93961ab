"""Model index: levit (names, published top-1 and weights from MMPretrain's model zoo, converted from the authors'; params_m counts the distillation classifier the configs build, which MMPretrain's figures leave out).

``params_m`` and ``flops_g`` (GMACs at ``input_size``) are counted by fovea (`fovea flops`);
``mmpretrain_flops_g`` is the figure MMPretrain publishes, counted with its own tool.
"""

_PAPER = 'LeViT: a Vision Transformer in ConvNet’s Clothing for Faster Inference'

ENTRIES = [
    dict(name='levit-128s_3rdparty_in1k', config='levit/levit-128s_8xb256_in1k.py', task='Image Classification',
         params_m=7.78, flops_g=0.305, mmpretrain_flops_g=0.31, input_size=224, top1=76.51,
         dataset='ImageNet-1k', paper=_PAPER,
         weights={'url': 'https://download.openmmlab.com/mmclassification/v0/levit/levit-128s_3rdparty_in1k_20230117-e9fbd209.pth', 'sha256': 'e9fbd209', 'source': 'mmpretrain'}),
    dict(name='levit-128_3rdparty_in1k', config='levit/levit-128_8xb256_in1k.py', task='Image Classification',
         params_m=9.21, flops_g=0.405, mmpretrain_flops_g=0.413, input_size=224, top1=78.58,
         dataset='ImageNet-1k', paper=_PAPER,
         weights={'url': 'https://download.openmmlab.com/mmclassification/v0/levit/levit-128_3rdparty_in1k_20230117-3be02a02.pth', 'sha256': '3be02a02', 'source': 'mmpretrain'}),
    dict(name='levit-192_3rdparty_in1k', config='levit/levit-192_8xb256_in1k.py', task='Image Classification',
         params_m=10.95, flops_g=0.657, mmpretrain_flops_g=0.668, input_size=224, top1=79.86,
         dataset='ImageNet-1k', paper=_PAPER,
         weights={'url': 'https://download.openmmlab.com/mmclassification/v0/levit/levit-192_3rdparty_in1k_20230117-8217a0f9.pth', 'sha256': '8217a0f9', 'source': 'mmpretrain'}),
    dict(name='levit-256_3rdparty_in1k', config='levit/levit-256_8xb256_in1k.py', task='Image Classification',
         params_m=18.89, flops_g=1.127, mmpretrain_flops_g=1.142, input_size=224, top1=81.59,
         dataset='ImageNet-1k', paper=_PAPER,
         weights={'url': 'https://download.openmmlab.com/mmclassification/v0/levit/levit-256_3rdparty_in1k_20230117-5ae2ce7d.pth', 'sha256': '5ae2ce7d', 'source': 'mmpretrain'}),
    dict(name='levit-384_3rdparty_in1k', config='levit/levit-384_8xb256_in1k.py', task='Image Classification',
         params_m=39.13, flops_g=2.352, mmpretrain_flops_g=2.373, input_size=224, top1=82.59,
         dataset='ImageNet-1k', paper=_PAPER,
         weights={'url': 'https://download.openmmlab.com/mmclassification/v0/levit/levit-384_3rdparty_in1k_20230117-f3539cce.pth', 'sha256': 'f3539cce', 'source': 'mmpretrain'}),
]
