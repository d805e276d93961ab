# HiViT-L/16 (768 wide, 40 main blocks); no weight decay on parameters named 'ln' (MMPretrain's key for the
# large configs) in place of 'norm'
_base_ = ['./itpn-pixel_hivit-base-p16_8xb512-amp-coslr-400e_in1k.py']

model = dict(backbone=dict(type='iTPNHiViT', arch='large'), neck=dict(type='iTPNPretrainDecoder', embed_dim=768))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(_delete_=True, **{
    'ln': dict(decay_mult=0.0),
    'bias': dict(decay_mult=0.0),
    'pos_embed': dict(decay_mult=0.),
    'mask_token': dict(decay_mult=0.),
})))
