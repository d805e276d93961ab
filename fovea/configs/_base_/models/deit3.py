# DeiT III-S/16 at 224 px (Touvron et al., ECCV 2022); the other sizes change backbone.arch / patch_size /
# img_size / drop_path_rate and head.in_channels. Label smoothing, Mixup and CutMix.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='DeiT3', arch='s', img_size=224, patch_size=16, drop_path_rate=0.05),
    neck=None,
    head=dict(type='VisionTransformerClsHead', num_classes=1000, in_channels=384,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    init_cfg=[dict(type='TruncNormal', layer='Linear', std=.02),
              dict(type='Constant', layer='LayerNorm', val=1., bias=0.)],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)
