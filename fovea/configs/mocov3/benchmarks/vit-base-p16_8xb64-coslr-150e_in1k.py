# Fine-tuning a MoCo v3 ViT-B/16 on ImageNet (MMPretrain's recipe): a plain VisionTransformer (the
# pretraining checkpoint's backbone; its fixed position table is fine-tuned), drop path 0.1, AdamW lr
# 5e-4 (batch 512), weight decay 0.05 except norms, biases, class token and position embedding, 5
# warmup epochs then cosine to 1e-5 at epoch 150, gradient clipping at 5, label smoothing 0.1, Mixup
# 0.8 + CutMix 1.0, EMA of the weights (momentum 4e-5). Point init_cfg at the pretraining checkpoint:
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_300.pth
_base_ = ['../../_base_/datasets/imagenet_bs64_swin_224.py', '../../_base_/default_runtime.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='VisionTransformer', arch='base', img_size=224, patch_size=16, drop_path_rate=0.1,
                  init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')),
    neck=None,
    head=dict(type='VisionTransformerClsHead', num_classes=1000, in_channels=768,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                        dict(type='Constant', layer='LayerNorm', val=1., bias=0.)]),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, eps=1e-8, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'.cls_token': dict(decay_mult=0.0), '.pos_embed': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=145, eta_min=1e-5, by_epoch=True, begin=5, end=150,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=150)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
custom_hooks = [dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL')]
randomness = dict(seed=0)
