# BLIP-base VQA fine-tuned on VQAv2 + Visual Genome, answers ranked over BLIP's answer list (VQAv2 test-dev), as
# MMPretrain's config. The answer list is downloaded on first prediction; set
# model.head.answer_list_path to a local copy to stay offline.
_base_ = [
    '../_base_/datasets/coco_vg_vqa.py',
    '../_base_/models/blip_vqa.py',
    '../_base_/schedules/blip_vqa_adamw_10e.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(
    inference_method='rank',  # or 'generate'
    answer_list_path='https://storage.googleapis.com/sfr-vision-language-research/datasets/answer_list.json'))

randomness = dict(seed=42)
