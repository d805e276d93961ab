# EfficientNet-EdgeTPU-S (Tan & Le, ICML 2019), trained at 224px.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='EfficientNet', arch='es', act_cfg=dict(type='ReLU')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
