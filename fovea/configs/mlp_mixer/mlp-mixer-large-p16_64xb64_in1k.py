_base_ = ['./mlp-mixer-base-p16_64xb64_in1k.py']

model = dict(backbone=dict(arch='l'), head=dict(in_channels=1024))
