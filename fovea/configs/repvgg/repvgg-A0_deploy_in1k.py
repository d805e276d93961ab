# RepVGG-A0 in its re-parameterised (deploy) form: one 3x3 conv per block.
_base_ = './repvgg-A0_8xb32_in1k.py'

model = dict(backbone=dict(deploy=True))
