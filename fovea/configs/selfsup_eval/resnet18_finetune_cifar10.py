# fovea's own: fine-tuning a self-supervised CIFAR ResNet-18 (the <algo>_resnet18_cifar10 pretraining
# configs) on the CIFAR-10 JPEGs: every layer trained, the backbone at a tenth of the head's learning rate
# (SGD lr 0.05 at batch 128, 5 warmup epochs then cosine over 50). The backbone comes from the pretraining
# checkpoint:
#   fovea train resnet18_finetune_cifar10 --cfg-options model.backbone.init_cfg.checkpoint=CKPT
_base_ = ['../_base_/datasets/cifar10_jpg_bs128.py', '../_base_/default_runtime.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18,
                  init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=512, loss=dict(type='CrossEntropyLoss')))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4),
                     paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5, eta_min=0., convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1))
