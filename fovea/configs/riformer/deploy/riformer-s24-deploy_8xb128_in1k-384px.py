# the re-parameterised form (norm_reparam in every block): loads deploy checkpoints
_base_ = ['../riformer-s24_8xb128_in1k-384px.py']

model = dict(backbone=dict(deploy=True))
