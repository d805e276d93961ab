# TSN ResNet-50 from ImageNet weights on a folder of videos (MMAction2's
# tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb schedule). Set the number of classes:
#   fovea train tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_video --cfg-options model.cls_head.num_classes=N
_base_ = [
    '../_base_/models/tsn_r50.py',
    '../_base_/datasets/video_folder_1x1x8.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
                     clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [dict(type='MultiStepLR', begin=0, end=100, by_epoch=True, milestones=[40, 80], gamma=0.1)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(interval=3, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=256)
