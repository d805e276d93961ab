# the re-parameterised form (norm_reparam in every block): loads deploy checkpoints
_base_ = ['../riformer-s36_8xb64_in1k-384px.py']

model = dict(backbone=dict(deploy=True))
