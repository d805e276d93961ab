# fovea's default run: LeNet-5 on the handwritten digits bundled with fovea (no download).
# 1,433 training and 364 validation images, 8x8 greyscale upsampled to 32x32.
_base_ = ['../_base_/default_runtime.py']

model = dict(
    type='ImageClassifier',
    backbone=dict(type='LeNet5', num_classes=-1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=120,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0, label_smooth_val=0.05),
    ),
    # pixel statistics of the training split, on the 0-255 scale
    data_preprocessor=dict(mean=[77.9], std=[95.9]),
)

pipeline = [dict(type='Resize', scale=32, interpolation='bilinear'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='Digits', split='train', pipeline=pipeline),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='Digits', split='val', pipeline=pipeline),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 3))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4, nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=45),          # 1 epoch warmup
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=20, eta_min=1e-4),
]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=45),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2, save_best='auto'),
)
randomness = dict(seed=0, deterministic=False)
