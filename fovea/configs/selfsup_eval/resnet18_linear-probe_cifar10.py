# fovea's own: linear probe of a self-supervised CIFAR ResNet-18 (the <algo>_resnet18_cifar10 pretraining
# configs) on the CIFAR-10 JPEGs: the backbone frozen (frozen_stages=4: stem and all stages, BN statistics
# kept), a linear head on the pooled 512-d features trained with SGD lr 0.1 at batch 256, cosine over 30
# epochs (solo-learn's and lightly's CIFAR probes use similar settings). The backbone comes from the
# pretraining checkpoint:
#   fovea train resnet18_linear-probe_cifar10 --cfg-options model.backbone.init_cfg.checkpoint=CKPT
_base_ = ['../_base_/datasets/cifar10_jpg_bs128.py', '../_base_/default_runtime.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, frozen_stages=4,
                  init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=512, loss=dict(type='CrossEntropyLoss')))
train_dataloader = dict(batch_size=256)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, eta_min=0.)]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1))
