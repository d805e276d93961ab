# Linear probe of a self-supervised ResNet-50 on ImageNet: the whole backbone frozen
# (frozen_stages=4, BN statistics kept), a linear head trained with LARS for 90 epochs at batch 4096.
# Point init_cfg at the pretraining checkpoint:
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_200.pth
_base_ = ['../../_base_/models/resnet50.py', '../../_base_/datasets/imagenet_bs32_pil_resize.py',
          '../../_base_/schedules/imagenet_lars_coslr_90e.py', '../../_base_/default_runtime.py']
model = dict(backbone=dict(frozen_stages=4, init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))
train_dataloader = dict(batch_size=512)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
