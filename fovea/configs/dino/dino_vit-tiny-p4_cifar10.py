# fovea's own: DINO on the CIFAR-10 JPEGs with a ViT-tiny, patch 4: 2 global 32 px crops and 6 local
# 16 px ones, a 3-layer 1024-128 head with 4,096 prototypes (weight norm free), teacher momentum
# 0.996 -> 1, teacher temperature 0.04 -> 0.07 over the first 10 epochs, AdamW lr 5e-4 per 256
# images with 10 warmup epochs, weight decay 0.04 -> 0.4, gradients clipped to norm 3; kNN every 10 epochs.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/default_runtime.py']
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='DINOMultiCrop', global_crops_scale=(0.4, 1.0), local_crops_scale=(0.1, 0.4), local_crops_number=6,
         global_crops_size=32, local_crops_size=16),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    type='DINO',
    base_momentum=0.004,
    backbone=dict(type='VisionTransformer', arch='tiny', img_size=32, patch_size=4, drop_path_rate=0.1),
    neck=dict(type='DINONeck', in_channels=192, hidden_channels=1024, bottleneck_channels=128,
              out_channels=4096, num_layers=3, norm_last_layer=False),
    head=dict(type='DINOHead', out_channels=4096, num_crops=8, student_temp=0.1, center_momentum=0.9,
              teacher_temp=0.04))
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.04),
    clip_grad=dict(max_norm=3.0),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'pos_embed': dict(decay_mult=0.0), 'cls_token': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, eta_min=1e-6, by_epoch=True, begin=10, end=100,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingWeightDecay', T_max=100, eta_min_ratio=10., by_epoch=True, begin=0, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
custom_hooks = [dict(type='DINOTeacherTempWarmupHook', warmup_teacher_temp=0.04, teacher_temp=0.07,
                     teacher_temp_warmup_epochs=10, max_epochs=100),
                dict(type='KNNHook', interval=10)]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=2))
auto_scale_lr = dict(base_batch_size=256)
