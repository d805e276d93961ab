_base_ = ['./deit3-small-p16_64xb64_in1k-384px.py']

model = dict(backbone=dict(arch='b', drop_path_rate=0.15), head=dict(in_channels=768))
train_dataloader = dict(batch_size=32)
auto_scale_lr = dict(base_batch_size=2048)
