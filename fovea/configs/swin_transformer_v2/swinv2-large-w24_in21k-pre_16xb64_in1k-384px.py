# at 384 px, window 24 (12 in the last stage)
_base_ = ['./swinv2-large-w16_in21k-pre_16xb64_in1k-256px.py', '../_base_/datasets/imagenet_bs64_swin_384.py']

model = dict(backbone=dict(img_size=384, window_size=[24, 24, 24, 12]))
