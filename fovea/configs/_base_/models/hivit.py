# HiViT-Tiny (Zhang et al., ICLR 2023) with relative position bias and its training-time pieces (label smoothing,
# Mixup/CutMix, truncated-normal Linear init); the other sizes change backbone.arch, drop_path_rate and
# head.in_channels (MMPretrain's _base_/models/hivit/*_224.py)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='HiViT', arch='tiny', img_size=224, ape=True, rpe=True, drop_path_rate=0.05),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=384,
              init_cfg=None,  # no LinearClsHead default init: the model's init_cfg covers it
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'), cal_acc=False),
    init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
              dict(type='Constant', layer='LayerNorm', val=1., bias=0.)],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)
