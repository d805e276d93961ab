# Swin V2-B at 384 px, for fine-tuning from ImageNet-21k (no batch augments, MMPretrain's file)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='SwinTransformerV2', arch='base', img_size=384, drop_path_rate=0.2),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024, init_cfg=None,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'), cal_acc=False),
)
