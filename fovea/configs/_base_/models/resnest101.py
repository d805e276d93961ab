# ResNeSt-101 (ResNeSt-200/269 change backbone.depth): the resnest50 model with a 128-wide deep stem
_base_ = ['./resnest50.py']
model = dict(backbone=dict(depth=101, stem_channels=128))
