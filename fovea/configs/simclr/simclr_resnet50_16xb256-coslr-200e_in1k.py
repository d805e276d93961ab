# SimCLR as simclr_resnet50_8xb32-coslr-200e_in1k.py with 16 x 256 images per step and lr 4.8.
_base_ = 'simclr_resnet50_8xb32-coslr-200e_in1k.py'
train_dataloader = dict(batch_size=256)
optim_wrapper = dict(optimizer=dict(lr=4.8))
auto_scale_lr = dict(base_batch_size=4096)
