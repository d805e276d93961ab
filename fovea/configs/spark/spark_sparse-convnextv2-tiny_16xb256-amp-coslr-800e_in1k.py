# SparK with a sparse ConvNeXt V2-T (GRN, no layer scale), 800 epochs with a 20-epoch warm-up (MMPretrain's).
_base_ = 'spark_sparse-convnext-small_16xb256-amp-coslr-800e_in1k.py'

model = dict(backbone=dict(arch='tiny', layer_scale_init_value=0., use_grn=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=780, by_epoch=True, begin=20, end=800, convert_to_iter_based=True),
    dict(type='CosineAnnealingWeightDecay', eta_min=0.2, T_max=800, by_epoch=True, begin=0, end=800,
         convert_to_iter_based=True),
]
