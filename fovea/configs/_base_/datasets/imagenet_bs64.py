# ImageNet as imagenet_bs32.py, 64 images per GPU.
_base_ = 'imagenet_bs32.py'

train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
