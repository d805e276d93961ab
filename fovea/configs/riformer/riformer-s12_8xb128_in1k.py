# RIFormer-S12: PoolFormer-S12 with the affine token mixer (foldable into the norm: `fovea reparameterize`
# or the deploy/ configs), PoolFormer's recipe
_base_ = ['../poolformer/poolformer-s12_32xb128_in1k.py']

model = dict(backbone=dict(type='RIFormer'))
