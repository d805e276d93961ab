# CLIP ViT-B/32 as OpenAI released it (QuickGELU, LN eps 1e-5): load OpenAI's ViT-B-32.pt (TorchScript,
# read as data), open_clip's 'ViT-B-32-quickgelu' checkpoints or MMPretrain CLIP weights with
# `fovea convert` / get_model(..., pretrained=PATH). Zero-shot on ImageNet class names with OpenAI's
# 80 templates unless text_prototype / text_prompt are changed.
model = dict(
    type='CLIP',
    vision_backbone=dict(
        type='VisionTransformer', arch='base', img_size=224, patch_size=32, pre_norm=True,
        norm_cfg=dict(type='LN', eps=1e-5), layer_cfgs=dict(act_cfg=dict(type='QuickGELU'))),
    projection=dict(type='CLIPProjection', in_channels=768, out_channels=512),
    text_backbone=dict(type='CLIPTransformer', width=512, layers=12, heads=8, act_cfg=dict(type='QuickGELU')),
    tokenizer=dict(type='CLIPTokenizer'),
    vocab_size=49408,
    transformer_width=512,
    proj_dim=512,
    context_length=77,
    text_prototype='imagenet',
    text_prompt='openai_imagenet',
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
        std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255],
        to_rgb=False),
)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
