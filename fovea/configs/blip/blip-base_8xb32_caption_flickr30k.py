# BLIP-base image captioning on Flickr30k, as MMPretrain's config.
_base_ = [
    '../_base_/datasets/flickr30k_caption.py',
    '../_base_/models/blip_caption.py',
    '../_base_/schedules/blip_caption_adamw_10e.py',
    '../_base_/default_runtime.py',
]
