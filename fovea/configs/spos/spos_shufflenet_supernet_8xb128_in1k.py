# Stage 1 of SPOS: train the ShuffleNetV2 supernet, one uniformly sampled path per step.
#   fovea train spos_shufflenet_supernet_8xb128_in1k.py
_base_ = [
    '../_base_/settings/imagenet_bs1024_spos.py',
    '../_base_/nas_backbones/spos_shufflenet_supernet.py',
    '../_base_/default_runtime.py',
]

supernet = dict(
    type='ImageClassifier',
    backbone=_base_.nas_backbone,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1024,
        loss=dict(type='LabelSmoothLoss', num_classes=1000, label_smooth_val=0.1, mode='original', loss_weight=1.0),
        topk=(1, 5)))

model = dict(
    type='SPOS',
    architecture=supernet,
    mutator=dict(type='NasMutator'),
    # the official code's alternative: dict(type='FlopsBinSampler', flops_range=(0, 330), num_bins=7)
    sampler=dict(type='UniformSampler'))

# each step trains one path: the other candidates get no gradient
env_cfg = dict(find_unused_parameters=True)
