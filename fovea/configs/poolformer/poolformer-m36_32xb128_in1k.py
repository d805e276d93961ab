# the medium sizes: 768-wide last stage, a 236 px resize before the evaluation crop
_base_ = ['./poolformer-s12_32xb128_in1k.py', '../_base_/datasets/imagenet_bs128_poolformer_medium_224.py']

model = dict(backbone=dict(arch='m36'), head=dict(in_channels=768))
