# Linear probe of a MoCo v3 ResNet-50 on ImageNet (MMPretrain's recipe): the whole backbone frozen
# (frozen_stages=4, BN statistics kept), a linear head trained with SGD lr 0.4 (batch 1024), no weight
# decay, cosine over 90 epochs. Point init_cfg at the pretraining checkpoint (a fovea one, or an
# official one after `fovea convert`):
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_100.pth
_base_ = ['../../_base_/models/resnet50.py', '../../_base_/datasets/imagenet_bs32_pil_resize.py',
          '../../_base_/schedules/imagenet_sgd_coslr_100e.py', '../../_base_/default_runtime.py']
train_dataloader = dict(batch_size=128)
model = dict(backbone=dict(frozen_stages=4, norm_eval=True,
                           init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')))
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=0.))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=0, end=90)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=90)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
