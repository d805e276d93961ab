# ResNet-50 fine-tuned on CUB-200-2011 at 448 px from ImageNet-21k weights (MMPretrain's recipe).
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/cub_bs8_448.py',
    '../_base_/schedules/cub_bs64.py',
    '../_base_/default_runtime.py',
]
pretrained = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
              'resnet50_3rdparty-mill_in21k_20220331-faac000b.pth')
model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone')),
             head=dict(num_classes=200))
default_hooks = dict(logger=dict(type='LoggerHook', interval=20))
