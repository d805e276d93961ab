# fovea's own: CIFAR-10 as JPEG files in class folders (train/<class>/*.jpg, test/<class>/*.jpg),
# e.g. the cifar10-jpg.tar shipped for benchmarks:
#   mkdir -p data/cifar10-jpg && tar -xf cifar10-jpg.tar -C data/cifar10-jpg
# (or point data_root elsewhere: --cfg-options train_dataloader.dataset.data_root=/tmp/data/cifar10 ...)
dataset_type = 'CustomDataset'
data_root = 'data/cifar10-jpg'
classes = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')
data_preprocessor = dict(
    num_classes=10,
    # RGB mean/std on the 0-255 scale (mean of the JPEG training images)
    mean=[125.28, 122.94, 113.86],
    std=[51.5865, 50.847, 51.255],
    # files are decoded RGB: keep RGB
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='train',
        metainfo=dict(classes=classes),
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)

val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='test',
        metainfo=dict(classes=classes),
        test_mode=True,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
