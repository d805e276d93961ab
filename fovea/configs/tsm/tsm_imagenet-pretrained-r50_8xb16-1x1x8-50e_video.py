# TSM ResNet-50 from ImageNet weights on a folder of videos (MMAction2's
# tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb schedule). Set the number of classes:
#   fovea train tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_video --cfg-options model.cls_head.num_classes=N
_base_ = [
    '../_base_/models/tsm_r50.py',
    '../_base_/datasets/video_folder_1x1x8.py',
    '../_base_/default_runtime.py',
]

# multi-clip testing as MMAction2's TSM: two clips of 8 segments (segment middles and starts), their
# class probabilities averaged
test_pipeline = [
    dict(type='PyAVInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8, test_mode=True, twice_sample=True),
    dict(type='PyAVDecode'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=16)
val_dataloader = dict(batch_size=16)
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
                     clip_grad=dict(max_norm=20, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='MultiStepLR', begin=0, end=50, by_epoch=True, milestones=[25, 45], gamma=0.1),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(interval=3, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=128)
