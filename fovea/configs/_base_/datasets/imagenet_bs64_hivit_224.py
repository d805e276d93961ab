# HiViT's ImageNet pipeline: Swin's (RandAugment, random erasing, bicubic 224 px crops), with the images listed
# in meta/train.txt and meta/val.txt under data/imagenet/ (MMPretrain's imagenet_bs64_hivit_224)
_base_ = ['./imagenet_bs64_swin_224.py']

data_root = 'data/imagenet/'
train_dataloader = dict(dataset=dict(_delete_=True, type='ImageNet', data_root=data_root, ann_file='meta/train.txt',
                                     data_prefix='train', pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(_delete_=True, type='ImageNet', data_root=data_root, ann_file='meta/val.txt',
                                   data_prefix='val', pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
