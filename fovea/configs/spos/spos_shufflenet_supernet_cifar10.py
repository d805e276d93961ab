# A narrow SPOS ShuffleNetV2 space for CIFAR-10 at 32 px (fovea's own; benchmarks/spos_cifar.py):
# the same 20 one-shot layers and candidates, stage widths x0.25 (16, 40, 80, 160), a stride-1 stem
# (32 px -> 2x2 after the four stride-2 stages), a 1x1 convolution to 256. SPOS's recipe otherwise.
#   fovea train spos_shufflenet_supernet_cifar10.py --cfg-options train_dataloader.dataset.data_root=/tmp/data/cifar10
_base_ = [
    '../_base_/datasets/cifar10_jpg_bs128.py',
    '../_base_/nas_backbones/spos_shufflenet_supernet.py',
    '../_base_/default_runtime.py',
]

supernet = dict(
    type='ImageClassifier',
    backbone=dict(_base_.nas_backbone, widen_factor=0.25, stem_stride=1, last_channels=256),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=256,
        loss=dict(type='LabelSmoothLoss', num_classes=10, label_smooth_val=0.1, mode='original', loss_weight=1.0),
        topk=(1,)))

model = dict(type='SPOS', architecture=supernet, mutator=dict(type='NasMutator'), sampler=dict(type='UniformSampler'))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.5 * 128 / 1024, momentum=0.9, weight_decay=4e-5),
    paramwise_cfg=dict(bias_decay_mult=0.0, norm_decay_mult=0.0, dwconv_decay_mult=0.0))
param_scheduler = dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=True, end=100, convert_to_iter_based=True)
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=10)
val_cfg = dict()
test_cfg = dict()

env_cfg = dict(find_unused_parameters=True)
