# RandAugment policies of MMPretrain's ResNeSt recipes (resnest/_randaug_policies.py), read by the resnest
# configs as {{_base_.policies}}.
policies = [
    dict(type='AutoContrast', prob=0.5),
    dict(type='Equalize', prob=0.5),
    dict(type='Invert', prob=0.5),
    dict(type='Rotate', magnitude_key='angle', magnitude_range=(0, 30), pad_val=0, prob=0.5, random_negative_prob=0.5),
    dict(type='Posterize', magnitude_key='bits', magnitude_range=(0, 4), prob=0.5),
    dict(type='Solarize', magnitude_key='thr', magnitude_range=(0, 256), prob=0.5),
    dict(type='SolarizeAdd', magnitude_key='magnitude', magnitude_range=(0, 110), thr=128, prob=0.5),
    dict(type='ColorTransform', magnitude_key='magnitude', magnitude_range=(-0.9, 0.9), prob=0.5, random_negative_prob=0.0),
    dict(type='Contrast', magnitude_key='magnitude', magnitude_range=(-0.9, 0.9), prob=0.5, random_negative_prob=0.0),
    dict(type='Brightness', magnitude_key='magnitude', magnitude_range=(-0.9, 0.9), prob=0.5, random_negative_prob=0.0),
    dict(type='Sharpness', magnitude_key='magnitude', magnitude_range=(-0.9, 0.9), prob=0.5, random_negative_prob=0.0),
    dict(type='Shear', magnitude_key='magnitude', magnitude_range=(0, 0.3), pad_val=0, prob=0.5, direction='horizontal', random_negative_prob=0.5),
    dict(type='Shear', magnitude_key='magnitude', magnitude_range=(0, 0.3), pad_val=0, prob=0.5, direction='vertical', random_negative_prob=0.5),
    dict(type='Cutout', magnitude_key='shape', magnitude_range=(1, 41), pad_val=0, prob=0.5),
    dict(type='Translate', magnitude_key='magnitude', magnitude_range=(0, 0.3), pad_val=0, prob=0.5, direction='horizontal', random_negative_prob=0.5, interpolation='bicubic'),
    dict(type='Translate', magnitude_key='magnitude', magnitude_range=(0, 0.3), pad_val=0, prob=0.5, direction='vertical', random_negative_prob=0.5, interpolation='bicubic'),
]
