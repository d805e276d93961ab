# at 384 px (fine-tuned from the 224 px model)
_base_ = ['./riformer-s12_8xb128_in1k.py', '../_base_/datasets/imagenet_bs128_riformer_small_384.py']
