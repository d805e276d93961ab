# RepVGG-A0 (Ding et al., CVPR 2021), training form; set backbone.deploy=True for the fused form.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='RepVGG', arch='A0', out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
