# TSM MobileNetV2 from ImageNet weights on a folder of videos (MMAction2's
# tsm_imagenet-pretrained-mobilenetv2_8xb16-1x1x8-100e_kinetics400-rgb settings). The backbone weights:
# a fovea/MMPretrain MobileNetV2 checkpoint, e.g. from `fovea.get_model('mobilenet-v2_3rdparty_8xb32_in1k',
# pretrained=True)` saved with torch.save, or MMPretrain's URL below.
_base_ = ['./tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_video.py']

model = dict(
    backbone=dict(_delete_=True, type='MobileNetV2TSM', num_segments=8, shift_div=8, norm_eval=False,
                  init_cfg=dict(type='Pretrained', prefix='backbone.',
                                checkpoint='https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/'
                                           'mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth')),
    cls_head=dict(in_channels=1280))
optim_wrapper = dict(optimizer=dict(lr=0.01, weight_decay=0.00004))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='MultiStepLR', begin=0, end=100, by_epoch=True, milestones=[40, 80], gamma=0.1),
]
train_cfg = dict(max_epochs=100)
