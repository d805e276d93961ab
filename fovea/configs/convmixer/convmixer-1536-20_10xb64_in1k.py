_base_ = ['./convmixer-1024-20_10xb64_in1k.py']

model = dict(backbone=dict(arch='1536/20'), head=dict(in_channels=1536))
