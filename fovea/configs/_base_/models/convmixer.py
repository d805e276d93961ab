# ConvMixer-1024/20 (Trockman & Kolter 2022; GELU, the backbone's default); the 768/32 config changes
# backbone.arch, uses ReLU as its published checkpoint and narrows head.in_channels.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvMixer', arch='1024/20'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
