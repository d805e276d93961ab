# ResNeSt-200, as MMPretrain's file builds it: its 320 px pipelines are written but never assigned to the
# loaders, so training and evaluation use imagenet_bs32's plain 224 px pipelines (the published weights are
# the authors', trained at 320 px; set the pipelines as resnest269's file does to train that way).
_base_ = ['./resnest50_32xb64_in1k.py', '../_base_/models/resnest101.py', '../_base_/datasets/imagenet_bs32.py']
model = dict(backbone=dict(depth=200))
