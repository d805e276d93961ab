# SparK with a sparse ConvNeXt-S (sparse layer norms on the visible positions), 800 epochs (MMPretrain's).
_base_ = 'spark_sparse-resnet50_8xb512-amp-coslr-800e_in1k.py'

train_dataloader = dict(batch_size=256, num_workers=8)
model = dict(
    enc_dec_norm_cfg=dict(type='SparseLN2d', eps=1e-6),
    enc_dec_norm_dim=768,
    backbone=dict(_delete_=True, type='SparseConvNeXt', arch='small', drop_path_rate=0.2, out_indices=(0, 1, 2, 3),
                  gap_before_output=False))
