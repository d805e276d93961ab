# BLIP-base NLVR2 (MMPretrain's blip-base_8xb32_nlvr model): ViT-B/16 at 384 px on both images, a BERT-base
# sentence encoder with twin cross-attention (one per image, merged from layer 6 on), a true/false MLP head.
_base_ = ['./blip_caption.py']

model = dict(
    _delete_=True,
    type='BlipNLVR',
    vision_backbone=dict(type='VisionTransformer', arch='b', img_size=384, patch_size=16, out_type='raw'),
    tokenizer=dict(type='BlipTokenizer', name_or_path='bert-base-uncased'),
    multimodal_backbone=dict(type='BertModel', config=dict({{_base_.med_config}}, nlvr=True),
                             add_pooling_layer=False),
)
