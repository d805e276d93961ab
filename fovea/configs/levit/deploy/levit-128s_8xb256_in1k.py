# the inference form: every conv/linear + batch norm folded into one layer
_base_ = '../levit-128s_8xb256_in1k.py'

model = dict(backbone=dict(deploy=True), head=dict(deploy=True))
