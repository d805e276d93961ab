# DINO on ImageNet with a ViT-S/16 for 100 epochs (DINO's default recipe): 2 global 224 px crops and
# 8 local 96 px ones, a 3-layer 2048-256 head with 65,536 prototypes, teacher momentum 0.996 -> 1
# (base_momentum 0.004), teacher temperature 0.04, center momentum 0.9, AdamW lr 0.0005 per 256
# images (0.002 for 16 x 64) with 10 warmup epochs and cosine to 1e-6, weight decay 0.04 -> 0.4
# (cosine), gradients clipped to norm 3, stochastic depth 0.1, fp16.
_base_ = ['../_base_/default_runtime.py']
data_preprocessor = dict(type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='DINOMultiCrop', global_crops_scale=(0.4, 1.0), local_crops_scale=(0.05, 0.4), local_crops_number=8),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64, num_workers=10, persistent_workers=True, pin_memory=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageNet', data_root='data/imagenet/', split='train', pipeline=train_pipeline))
model = dict(
    type='DINO',
    base_momentum=0.004,
    backbone=dict(type='VisionTransformer', arch='deit-small', img_size=224, patch_size=16, drop_path_rate=0.1),
    neck=dict(type='DINONeck', in_channels=384, hidden_channels=2048, bottleneck_channels=256,
              out_channels=65536, num_layers=3, norm_last_layer=True),
    head=dict(type='DINOHead', out_channels=65536, num_crops=10, student_temp=0.1, center_momentum=0.9,
              teacher_temp=0.04))
optim_wrapper = dict(
    type='AmpOptimWrapper', loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=0.002, betas=(0.9, 0.999), weight_decay=0.04),
    clip_grad=dict(max_norm=3.0),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'pos_embed': dict(decay_mult=0.0), 'cls_token': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, eta_min=1e-6, by_epoch=True, begin=10, end=100,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingWeightDecay', T_max=100, eta_min_ratio=10., by_epoch=True, begin=0, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
custom_hooks = [dict(type='DINOTeacherTempWarmupHook', warmup_teacher_temp=0.04, teacher_temp=0.04,
                     teacher_temp_warmup_epochs=0, max_epochs=100)]
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=1024)
