# BLIP-base visual grounding (MMPretrain's blip-base_8xb16_refcoco model): ViT-B/16 at 384 px, a BERT-base text
# encoder, a BERT-base encoder fusing it with the image, and a BERT-base decoder writing the box as four tokens.
_base_ = ['./blip_caption.py']

model = dict(
    _delete_=True,
    type='BlipGrounding',
    visual_encoder=dict(type='VisionTransformer', arch='b', img_size=384, patch_size=16, out_type='raw'),
    text_encoder=dict(type='XBertEncoder', med_config={{_base_.med_config}}),
    multimodal_encoder=dict(type='XBertEncoder', med_config={{_base_.med_config}}),
    tokenizer=dict(type='BlipTokenizer', name_or_path='bert-base-uncased'),
    head=dict(type='GroundingHead', decoder=dict(type='XBertLMHeadDecoder', med_config={{_base_.med_config}}),
              box_l1_loss_coeff=4.0, box_giou_loss_coeff=2.0),
)
