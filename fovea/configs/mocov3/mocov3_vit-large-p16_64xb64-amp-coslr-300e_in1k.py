# MoCo v3 with a ViT-L/16: the ViT-S recipe with a 1024-wide backbone, 64 images per GPU on 64 GPUs,
# gradients clipped to norm 5 (non-finite norms skipped by the loss scaler, not raised).
_base_ = './mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k.py'
train_dataloader = dict(batch_size=64)
model = dict(backbone=dict(arch='large'), neck=dict(in_channels=1024))
optim_wrapper = dict(clip_grad=dict(max_norm=5.0, error_if_nonfinite=False))
randomness = dict(seed=0)
