# MMPretrain's configs/lenet/lenet5_mnist.py: LeNet-5 on MNIST (60,000 / 10,000 28x28 greyscale images,
# resized to 32x32), 5 epochs of SGD. Point data_prefix at the folder of the IDX files (downloaded when
# missing). The split is chosen the MMPretrain 1.x way: test_mode=True reads the t10k test files.
_base_ = ['../_base_/default_runtime.py']

model = dict(
    type='ImageClassifier',
    backbone=dict(type='LeNet5', num_classes=10),
    neck=None,
    head=dict(type='ClsHead', loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)

data_preprocessor = dict(mean=[33.46], std=[78.87], num_classes=10)
pipeline = [dict(type='Resize', scale=32), dict(type='PackInputs')]
common_data_cfg = dict(type='MNIST', data_prefix='data/mnist', pipeline=pipeline)
train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    dataset=dict(**common_data_cfg, test_mode=False),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    dataset=dict(**common_data_cfg, test_mode=True),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[15], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(logger=dict(type='LoggerHook', interval=150), checkpoint=dict(type='CheckpointHook', interval=1))
auto_scale_lr = dict(base_batch_size=128)
