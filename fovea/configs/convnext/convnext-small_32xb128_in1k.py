_base_ = [
    '../_base_/models/convnext/convnext-small.py',
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=128)

optim_wrapper = dict(
    optimizer=dict(lr=4e-3),
    clip_grad=None,
)

custom_hooks = [dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]

# the learning rate is for 4096 images per step
auto_scale_lr = dict(base_batch_size=4096)
