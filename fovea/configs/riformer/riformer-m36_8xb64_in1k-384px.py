_base_ = ['./riformer-m36_8xb128_in1k.py', '../_base_/datasets/imagenet_bs128_riformer_medium_384.py']
