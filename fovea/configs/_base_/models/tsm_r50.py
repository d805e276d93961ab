# TSM (Lin et al., ICCV 2019) with a ResNet-50 backbone: MMAction2's tsm_r50 model settings
# (1/8 of the channels shifted each way in every residual block, 8 segments).
model = dict(
    type='Recognizer2D',
    backbone=dict(type='ResNetTSM', depth=50, num_segments=8, shift_div=8, norm_eval=False,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    cls_head=dict(type='TSMHead', num_classes=400, in_channels=2048, num_segments=8, spatial_type='avg',
                  consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.5, init_std=0.001,
                  is_shift=True, average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCHW'))
