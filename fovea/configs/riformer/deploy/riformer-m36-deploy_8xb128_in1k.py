# the re-parameterised form (norm_reparam in every block): loads deploy checkpoints
_base_ = ['../riformer-m36_8xb128_in1k.py']

model = dict(backbone=dict(deploy=True))
