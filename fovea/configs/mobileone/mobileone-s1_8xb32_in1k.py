# MobileOne-S1: S2's progressive recipe with RandAugment at magnitude 0.7 for the first 36 epochs and 7
# after (MMPretrain's s1 file scales its first pipeline again after handing it over, which changes nothing).
_base_ = ['./mobileone-s2_8xb32_in1k.py']
model = dict(backbone=dict(arch='s1'), head=dict(in_channels=1280))
_base_.train_dataloader.dataset.pipeline[3].magnitude_level = 7 * 0.1
for _recipe in _base_.custom_hooks[0].schedule:
    _recipe.pipeline[3].magnitude_level = 7
del _recipe
