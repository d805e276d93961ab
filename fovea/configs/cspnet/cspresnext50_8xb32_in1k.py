# CSPResNeXt-50 on ImageNet-1k, MMPretrain's recipe: bicubic (Pillow) crops, SGD with step decay for 100
# epochs (the published weights are timm's). CSPResNet-50 and CSPDarkNet-53 change the backbone, the head's
# width and the evaluation resize.
_base_ = [
    '../_base_/datasets/imagenet_bs32_pil_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CSPResNeXt', depth=50),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)
