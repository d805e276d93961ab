# DeiT-B fine-tuned at 384px from the 224px model: load the 224px checkpoint
# (init_cfg or load_from) and the position embedding is interpolated to the 24x24 grid.
_base_ = [
    '../_base_/datasets/imagenet_bs64_swin_384.py',
    '../_base_/schedules/imagenet_bs4096_AdamW.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(type='VisionTransformer', arch='deit-base', img_size=384, patch_size=16),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
    ),
    # init_cfg=dict(type='Pretrained', checkpoint='<the 224px checkpoint>'),
)

train_dataloader = dict(batch_size=32)

optim_wrapper = dict(clip_grad=dict(max_norm=1.0))

auto_scale_lr = dict(base_batch_size=512)
