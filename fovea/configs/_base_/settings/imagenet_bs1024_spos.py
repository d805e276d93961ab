# MMRazor's SPOS recipe on ImageNet: 8 x 128 images with colour jitter, SGD lr 0.5 momentum 0.9, weight
# decay 4e-5 (none on norms, biases and depthwise convolutions), linear (power-1 poly) decay over 300 epochs.
_base_ = '../datasets/imagenet_bs32.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]

train_dataloader = dict(batch_size=128, num_workers=4, persistent_workers=True,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=128, num_workers=4, persistent_workers=True)
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=4e-5),
    paramwise_cfg=dict(bias_decay_mult=0.0, norm_decay_mult=0.0, dwconv_decay_mult=0.0),
    clip_grad=None)

param_scheduler = dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=True, end=300, convert_to_iter_based=True)

train_cfg = dict(by_epoch=True, max_epochs=300)
val_cfg = dict()
test_cfg = dict()
# 8 GPUs x 128 images: the lr is scaled when the global batch differs
auto_scale_lr = dict(base_batch_size=1024)
