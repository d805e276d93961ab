# Swin V2-T at 256 px (Liu et al. 2022) with label smoothing and Mixup/CutMix; small/base change arch,
# drop_path_rate and head.in_channels.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='SwinTransformerV2', arch='tiny', img_size=256, drop_path_rate=0.2),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=768,
              init_cfg=None,  # no default init_cfg for the head: the model's TruncNormal covers it
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'), cal_acc=False),
    init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
              dict(type='Constant', layer='LayerNorm', val=1., bias=0.)],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)
