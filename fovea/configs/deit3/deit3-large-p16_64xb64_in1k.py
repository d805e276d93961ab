_base_ = ['./deit3-small-p16_64xb64_in1k.py']

model = dict(backbone=dict(arch='l', drop_path_rate=0.45), head=dict(in_channels=1024))
