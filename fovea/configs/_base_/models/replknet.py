# RepLKNet-31B (Ding et al., CVPR 2022); 31L and XL change backbone.arch and head.in_channels (1536, 2048).
# small_kernel_merged=True builds the re-parameterised form (one large kernel per block).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='RepLKNet', arch='31B', out_indices=(3,)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)),
)
