# BLIP-base image captioning fine-tuned on COCO (Karpathy split), as MMPretrain's config.
_base_ = [
    '../_base_/datasets/coco_caption.py',
    '../_base_/models/blip_caption.py',
    '../_base_/schedules/blip_caption_adamw_10e.py',
    '../_base_/default_runtime.py',
]
