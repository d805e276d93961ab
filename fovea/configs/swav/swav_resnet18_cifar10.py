# fovea's own: SwAV on the CIFAR-10 JPEGs with a CIFAR ResNet-18: multi-crop (2 x 32 px from 14-100% of
# the image, 4 x 16 px from 5-40%), 2048-128 projector, 3,000 prototypes frozen for the first 200
# iterations (about an epoch at batch 256), a 3,840-embedding queue from epoch 15; kNN every 10 epochs.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
num_crops = [2, 4]
_colour = _base_.view_pipeline[1:]      # the base's flip, colour jitter and greyscale
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=num_crops, transforms=[
        [dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.14, 1.0), backend='pillow')] + _colour,
        [dict(type='RandomResizedCrop', scale=16, crop_ratio_range=(0.05, 0.4), backend='pillow')] + _colour]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    type='SwAV',
    backbone=dict(type='ResNet_CIFAR', depth=18, zero_init_residual=True),
    neck=dict(type='SwAVNeck', in_channels=512, hid_channels=2048, out_channels=128, norm_cfg=dict(type='BN')),
    head=dict(type='SwAVHead', loss=dict(type='SwAVLoss', feat_dim=128, epsilon=0.05, temperature=0.1,
                                         num_crops=num_crops, num_prototypes=3000)))
custom_hooks = [dict(type='KNNHook', interval=10),
                dict(type='SwAVHook', priority='VERY_HIGH', batch_size=256, epoch_queue_starts=15,
                     crops_for_assign=[0, 1], feat_dim=128, queue_length=3840,
                     frozen_layers_cfg=dict(prototypes=200))]
