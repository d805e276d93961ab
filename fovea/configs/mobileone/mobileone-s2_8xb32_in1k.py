# MobileOne-S2, MMPretrain's progressive recipe (S3 and S4 inherit it): crops of 160 px and RandAugment at
# 0.3 x magnitude 7 first, 192 px and 0.7 x from epoch 37, 224 px and full magnitude from epoch 112.
_base_ = ['./mobileone-s0_8xb32_in1k.py']
model = dict(backbone=dict(arch='s2'), head=dict(in_channels=2048))


def _pipeline(scale, magnitude):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=scale, backend='pillow'),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
             magnitude_level=magnitude, magnitude_std=0.5,
             hparams=dict(pad_val=[round(x) for x in _base_.data_preprocessor['mean'][::-1]])),
        dict(type='PackInputs'),
    ]


train_dataloader = dict(dataset=dict(pipeline=_pipeline(160, 7 * 0.3)))
custom_hooks = [
    dict(type='SwitchRecipeHook', schedule=[dict(action_epoch=37, pipeline=_pipeline(192, 7 * 0.7)),
                                            dict(action_epoch=112, pipeline=_pipeline(224, 7 * 1.0))]),
    dict(type='EMAHook', momentum=5e-4, priority='ABOVE_NORMAL', update_buffers=True),
]
