# AdamW for HiViT: Swin's schedule (lr 1e-3 for 1024 images, 20 warmup epochs, cosine to 300), no weight decay on
# HiViT's position embedding (pos_embed) in place of Swin's absolute_pos_embed (MMPretrain's
# imagenet_bs1024_adamw_hivit)
_base_ = ['./imagenet_bs1024_adamw_swin.py']

optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(
    _delete_=True, **{'.pos_embed': dict(decay_mult=0.0), '.relative_position_bias_table': dict(decay_mult=0.0)})))
