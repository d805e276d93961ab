# MLP-Mixer-B/16 on ImageNet, MMPretrain's recipe: AdamW (lr 3e-3 for 4096 images per step, weight decay
# 0.3), 30 warm-up epochs then cosine to 300, gradients clipped at norm 1.
_base_ = ['../_base_/models/mlp_mixer.py', '../_base_/datasets/imagenet_bs64_mixer_224.py',
          '../_base_/schedules/imagenet_bs4096_AdamW.py', '../_base_/default_runtime.py']

optim_wrapper = dict(clip_grad=dict(max_norm=1.0))
