# Res2Net-50 w14 s8 (Gao et al., TPAMI 2021) with a plain 7x7 stem and strided-conv shortcuts, as MMPretrain's
# res2net model files (the other sizes change depth, scales and base_width).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='Res2Net', depth=50, scales=8, base_width=14, deep_stem=False, avg_down=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)),
)
