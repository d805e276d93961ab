# BLIP-base VQA fine-tuned on OCR-VQA, open-ended answers by beam search, as MMPretrain's config.
_base_ = [
    '../_base_/datasets/ocrvqa.py',
    '../_base_/models/blip_vqa.py',
    '../_base_/schedules/blip_vqa_adamw_10e.py',
    '../_base_/default_runtime.py',
]

val_cfg = dict()

randomness = dict(seed=42)
