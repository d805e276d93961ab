# Swin V2-L pre-training on ImageNet-21k at 192 px. MMPretrain's file is a copy of the base one (it would build
# Swin V2-B); this one builds the large model its name and metafile entry describe.
_base_ = ['./swinv2-base-w12_8xb128_in21k-192px.py']

model = dict(backbone=dict(arch='large'), head=dict(in_channels=1536))
