# iTPN with pixel targets: an iTPNHiViT-B/16 encoder (75% of the patches masked), the 3-level transformer
# pyramid (256 wide, 2 MLP blocks per level) and a 6-layer MAE decoder on normalised pixels (MMPretrain's
# _base_/models/itpn_hivit-base-p16.py)
model = dict(
    type='iTPN',
    backbone=dict(type='iTPNHiViT', arch='base', reconstruction_type='pixel', mask_ratio=0.75),
    neck=dict(type='iTPNPretrainDecoder', num_patches=196, patch_size=16, in_chans=3, embed_dim=512,
              decoder_embed_dim=512, decoder_depth=6, decoder_num_heads=16, mlp_ratio=4.,
              reconstruction_type='pixel', fpn_dim=256, fpn_depth=2, num_outs=3),
    head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=16,
              loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[dict(type='Xavier', layer='Linear', distribution='uniform'),
              dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)])
