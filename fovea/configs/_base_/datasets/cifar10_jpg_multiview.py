# fovea's own: CIFAR-10 JPEGs in class folders (train/<class>/*.jpg, test/<class>/*.jpg, e.g.
# ../shared/data/cifar10-jpg.tar) for self-supervised pretraining: two augmented 32 px views per
# training image (labels unused), and a weighted kNN check (memory bank: the training images; queries:
# the test images) through knn_cfg. Point all three loaders elsewhere with
#   --cfg-options train_dataloader.dataset.data_root=D knn_cfg.train_dataloader.dataset.data_root=D \
#       knn_cfg.val_dataloader.dataset.data_root=D
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
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=256, num_workers=2, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train', with_label=False,
                 pipeline=train_pipeline))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
knn_cfg = dict(
    k=200, temperature=0.1,
    train_dataloader=dict(batch_size=512, num_workers=2, dataset=dict(
        type='CustomDataset', data_root=data_root, data_prefix='train', metainfo=dict(classes=classes),
        pipeline=test_pipeline)),
    val_dataloader=dict(batch_size=512, num_workers=2, dataset=dict(
        type='CustomDataset', data_root=data_root, data_prefix='test', metainfo=dict(classes=classes),
        pipeline=test_pipeline)))
