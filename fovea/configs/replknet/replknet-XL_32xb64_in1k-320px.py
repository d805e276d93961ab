# RepLKNet-XL (no parallel small kernel; 1.5x wide large-kernel blocks) at 320 px
_base_ = ['./replknet-31B_32xb64_in1k.py', '../_base_/datasets/imagenet_bs8_pil_bicubic_320.py']
model = dict(backbone=dict(arch='XL'), head=dict(in_channels=2048))
data_preprocessor = dict(_delete_=True, **{k: v for k, v in _base_.data_preprocessor.items() if k != 'num_classes'})
