# the re-parameterised form (norm_reparam in every block): loads deploy checkpoints
_base_ = ['../riformer-m36_8xb64_in1k-384px.py']

model = dict(backbone=dict(deploy=True))
