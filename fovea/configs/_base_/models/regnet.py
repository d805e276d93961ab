# RegNetX-400MF (Radosavovic et al., CVPR 2020); the other sizes change backbone.arch and head.in_channels.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='RegNet', arch='regnetx_400mf'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=384,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)),
)
