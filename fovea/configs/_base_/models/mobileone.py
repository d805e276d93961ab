# MobileOne-S0 (Vasu et al., CVPR 2023); the other sizes change backbone.arch and head.in_channels
# (S1 1280, S2-S4 2048). deploy=True builds the re-parameterised form (one conv per block).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='MobileOne', arch='s0', out_indices=(3,)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'), topk=(1, 5)),
)
