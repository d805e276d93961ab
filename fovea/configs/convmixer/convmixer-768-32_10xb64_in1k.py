# ConvMixer-768/32 on ImageNet, MMPretrain's recipe: Swin's AdamW schedule at lr 0.01 for 640 images per
# step (10 x 64), gradients clipped at norm 5, 300 epochs; Swin's augmentation, evaluated at 224 px
# after resizing the short edge to 233 (bicubic).
_base_ = ['../_base_/models/convmixer.py', '../_base_/datasets/imagenet_bs64_swin_224.py',
          '../_base_/schedules/imagenet_bs1024_adamw_swin.py', '../_base_/default_runtime.py']

model = dict(backbone=dict(arch='768/32', act_cfg=dict(type='ReLU')), head=dict(in_channels=768))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=233, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=0.01), clip_grad=dict(max_norm=5.0))
train_cfg = dict(by_epoch=True, max_epochs=300)
auto_scale_lr = dict(base_batch_size=640)
