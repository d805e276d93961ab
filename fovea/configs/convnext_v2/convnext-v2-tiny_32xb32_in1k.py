# ConvNeXt V2-T fine-tuned on ImageNet-1k (300 epochs, 40 warmup, AdamW lr 3.2e-3)
_base_ = [
    '../_base_/models/convnext_v2.py',
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]

model = dict(backbone=dict(arch='tiny', drop_path_rate=0.2),
             head=dict(in_channels=768, loss=dict(label_smooth_val=0.2)),
             train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

train_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(lr=3.2e-3), clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=40),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]
