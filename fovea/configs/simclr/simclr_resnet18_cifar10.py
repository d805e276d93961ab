# fovea's own: SimCLR on the CIFAR-10 JPEGs (class folders train/<class>/*.jpg, test/<class>/*.jpg,
# e.g. ../shared/data/cifar10-jpg.tar), CIFAR ResNet-18, labels unused for training; weighted kNN
# top-1 on the test images (memory bank: the training images) is reported after each epoch.
#   fovea train simclr_resnet18_cifar10 --cfg-options train_dataloader.dataset.data_root=/tmp/data/cifar10 \
#       knn_cfg.train_dataloader.dataset.data_root=/tmp/data/cifar10 knn_cfg.val_dataloader.dataset.data_root=/tmp/data/cifar10
_base_ = ['../_base_/default_runtime.py']
data_root = 'data/cifar10-jpg'
classes = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')
data_preprocessor = dict(type='SelfSupDataPreprocessor', mean=[125.28, 122.94, 113.86],
                         std=[51.5865, 50.847, 51.255], to_rgb=True)
view_pipeline = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomApply', prob=0.8,
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)]),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
]
train_dataloader = dict(
    batch_size=256, num_workers=2, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train', with_label=False,
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
                           dict(type='PackInputs')]))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
knn_cfg = dict(
    k=200, temperature=0.1,
    train_dataloader=dict(batch_size=512, num_workers=2, dataset=dict(
        type='CustomDataset', data_root=data_root, data_prefix='train', metainfo=dict(classes=classes),
        pipeline=test_pipeline)),
    val_dataloader=dict(batch_size=512, num_workers=2, dataset=dict(
        type='CustomDataset', data_root=data_root, data_prefix='test', metainfo=dict(classes=classes),
        pipeline=test_pipeline)))
model = dict(
    type='SimCLR',
    backbone=dict(type='ResNet_CIFAR', depth=18, zero_init_residual=True),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=512, out_channels=128, num_layers=2,
              norm_cfg=dict(type='BN')),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.1))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5, eta_min=0.0, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
custom_hooks = [dict(type='KNNHook', interval=10)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2))
