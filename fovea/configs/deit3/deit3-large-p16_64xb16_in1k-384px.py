_base_ = ['./deit3-small-p16_64xb64_in1k-384px.py']

model = dict(backbone=dict(arch='l', drop_path_rate=0.4), head=dict(in_channels=1024))
train_dataloader = dict(batch_size=16)
auto_scale_lr = dict(base_batch_size=1025)   # sic: MMPretrain's figure (64 x 16 = 1024)
