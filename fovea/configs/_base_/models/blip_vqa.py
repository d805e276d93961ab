# BLIP-base VQA (MMPretrain's blip-base_8xb32_vqa model): ViT-B/16 at 480 px, the image-grounded BERT-base
# question encoder and a BERT-base answer decoder; open-ended answers by beam search ('generate'), or the best
# of an answer list ('rank', see blip-base_8xb32_vqa.py).
_base_ = ['./blip_caption.py']

model = dict(
    _delete_=True,
    type='BlipVQA',
    tokenizer=dict(type='BlipTokenizer', name_or_path='bert-base-uncased'),
    vision_backbone=dict(type='VisionTransformer', arch='b', img_size=480, patch_size=16, out_type='raw'),
    multimodal_backbone=dict(type='XBertEncoder', med_config={{_base_.med_config}}),
    head=dict(type='VQAGenerationHead', decoder=dict(type='XBertLMHeadDecoder', med_config={{_base_.med_config}}),
              inference_method='generate'),
)
