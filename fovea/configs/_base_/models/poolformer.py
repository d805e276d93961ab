# PoolFormer-S12 (Yu et al., CVPR 2022); the other sizes change backbone.arch and head.in_channels, and
# RIFormer (the riformer configs) changes backbone.type. Truncated-normal convs, GroupNorms at 1/0.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='PoolFormer', arch='s12', drop_path_rate=0.1,
        init_cfg=[dict(type='TruncNormal', layer=['Conv2d', 'Linear'], std=.02, bias=0.),
                  dict(type='Constant', layer=['GroupNorm'], val=1., bias=0.)]),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
