# Swin V2-T, window 8, on ImageNet at 256 px: MMPretrain's recipe (the Swin AdamW schedule, 1024 images per step;
# its weights are converted from the authors')
_base_ = ['../_base_/models/swin_transformer_v2/tiny_256.py', '../_base_/datasets/imagenet_bs64_swin_256.py',
          '../_base_/schedules/imagenet_bs1024_adamw_swin.py', '../_base_/default_runtime.py']
