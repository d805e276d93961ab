# BLIP-base image-text retrieval fine-tuned on COCO (Karpathy split), as MMPretrain's config.
_base_ = [
    '../_base_/datasets/coco_retrieval.py',
    '../_base_/models/blip_retrieval.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/blip_retrieval_adamw_6e.py',   # after the runtime: its logger interval and seed win
]
