# DeiT-S distilled (class + distillation tokens), ImageNet-1k, 300 epochs (Touvron et al., ICML 2021).
# DeiT's recipe: AdamW (lr 5e-4 x batch/512, wd 0.05) with 5-epoch warm-up and cosine decay,
# RandAugment, Mixup 0.8 / CutMix 1.0, random erasing 0.25, label smoothing 0.1, stochastic depth,
# repeated augmentation (3 repeats), gradient clipping.
# This config builds the distilled architecture and trains it as a plain classifier (as
# MMPretrain does; the two heads are averaged). To train it with a teacher, see
# deit-tiny-distilled_resnet50-teacher_4xb256_in1k.py.
_base_ = [
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='DistilledVisionTransformer',
        arch='deit-small',
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
    ),
    neck=None,
    head=dict(
        type='DeiTClsHead',
        num_classes=1000,
        in_channels=384,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
    ),
    init_cfg=[
        dict(type='TruncNormal', layer='Linear', std=.02),
        dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
    ],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)

# repeated augmentation (Hoffer et al. 2020; DeiT): each sampled image is used 3 times (on different ranks),
# differently augmented; MMPretrain's DeiT config leaves it out
train_dataloader = dict(batch_size=256, sampler=dict(type='RepeatAugSampler', shuffle=True, num_repeats=3))

optim_wrapper = dict(
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
            '.dist_token': dict(decay_mult=0.0),
        }),
    clip_grad=dict(max_norm=5.0),
)
