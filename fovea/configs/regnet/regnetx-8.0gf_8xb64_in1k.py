_base_ = ['./regnetx-400mf_8xb128_in1k.py']

model = dict(backbone=dict(type='RegNet', arch='regnetx_8.0gf'), head=dict(in_channels=1920))

# 512 images per step: lr 0.4
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(optimizer=dict(lr=0.4))
auto_scale_lr = dict(base_batch_size=512)
