_base_ = ['./deit3-small-p16_64xb64_in1k.py']

model = dict(backbone=dict(arch='h', patch_size=14, drop_path_rate=0.55), head=dict(in_channels=1280))
train_dataloader = dict(batch_size=32)
auto_scale_lr = dict(base_batch_size=2048)
