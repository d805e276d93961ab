_base_ = ['./replknet-31B_32xb64_in1k-384px.py']
model = dict(backbone=dict(arch='31L'), head=dict(in_channels=1536))
