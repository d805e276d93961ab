_base_ = ['./riformer-s12_8xb128_in1k.py', '../_base_/datasets/imagenet_bs128_poolformer_medium_224.py']

model = dict(backbone=dict(arch='m36'), head=dict(in_channels=768))
