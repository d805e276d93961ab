# BLIP-base retriever (MMPretrain's blip-base_8xb32_retrieval model): ViT-B/16 at 384 px, a BERT-base encoder
# with cross-attention (unimodal for ITC, image-grounded for ITM), 256-d ITC projections, momentum copies.
_base_ = ['./blip_caption.py']

model = dict(
    _delete_=True,
    type='BlipRetrieval',
    tokenizer=dict(type='BlipTokenizer', name_or_path='bert-base-uncased'),
    vision_backbone=dict(type='VisionTransformer', arch='b', img_size=384, patch_size=16, out_type='raw'),
    text_backbone=dict(type='XBertEncoder', med_config={{_base_.med_config}}),
    vision_neck=dict(type='Linear', in_features=768, out_features=256),
    text_neck=dict(type='Linear', in_features=768, out_features=256),
    head=dict(type='ITCHead', embed_dim=256),
    multimodal_head=dict(type='ITMHead', hidden_size=768, with_pooler=False),
    topk=256,
    max_txt_len=35,
)
