# BLIP-base captioner evaluated on NoCaps (predictions saved for the official server), as MMPretrain's config.
_base_ = [
    '../_base_/datasets/nocaps.py',
    '../_base_/models/blip_caption.py',
    '../_base_/default_runtime.py',
]

val_cfg = dict()
test_cfg = dict()
