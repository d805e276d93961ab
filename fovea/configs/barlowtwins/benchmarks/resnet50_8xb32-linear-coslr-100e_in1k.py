# Linear probe of a Barlow Twins ResNet-50 on ImageNet: the backbone frozen (frozen_stages=4), a
# linear head trained with SGD lr 0.3, cosine over 100 epochs, batch 256.
# Point init_cfg at the pretraining checkpoint:
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_300.pth
_base_ = ['../../_base_/models/resnet50.py', '../../_base_/datasets/imagenet_bs32_pil_resize.py',
          '../../_base_/schedules/imagenet_sgd_coslr_100e.py', '../../_base_/default_runtime.py']
model = dict(backbone=dict(frozen_stages=4, init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
