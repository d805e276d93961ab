# Linear probe of a MoCo v2 ResNet-50 on ImageNet: the backbone frozen (frozen_stages=4), a linear
# head trained with SGD lr 30 (no weight decay), x0.1 at epochs 60 and 80 of 100, batch 256.
# Point init_cfg at the pretraining checkpoint:
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_200.pth
_base_ = ['../../_base_/models/resnet50.py', '../../_base_/datasets/imagenet_bs32_pil_resize.py',
          '../../_base_/schedules/imagenet_sgd_steplr_100e.py', '../../_base_/default_runtime.py']
model = dict(backbone=dict(frozen_stages=4, init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=30., momentum=0.9, weight_decay=0.))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
