"""The shipped masked-image-modelling configs (MMPretrain's, under fovea/configs/<algo>/): each one,
shrunk through overrides (ViT width 32, 2 layers, 32 px images, small tokenizers), reads class folders
through its own training pipeline (its crops, mask generator and data preprocessor) and one
``train_step`` gives finite losses and changes the weights. (That the unshrunk configs build with
MMPretrain's parameter counts is tests/compat/test_mmpretrain_configs.py.)"""
from __future__ import annotations

import copy

import pytest
import torch
from PIL import Image

from fovea.config import Config
from fovea.data.collate import default_collate
from fovea.engine.optim_wrapper import OptimWrapper
from fovea.registry import DATASETS, MODELS, build

TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
TINY_VIT = dict(arch=TINY, img_size=32, patch_size=8)
CLIP_TARGET = dict(tokenizer_path=None, arch=dict(          # a 1-layer CLIP with random weights
    embed_dim=16, vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1)))
BEIT_MASK = dict(input_size=(4, 4), num_masking_patches=6, min_num_patches=2)


def _pipeline(cfg, **by_type):
    """The config's training pipeline with the arguments of the named transforms replaced."""
    pipeline = copy.deepcopy(cfg.train_dataloader['dataset']['pipeline'])
    for t in pipeline:
        t.update(by_type.get(t['type'], {}))
    return pipeline


def _merge(base: dict, new: dict) -> dict:
    out = dict(base)
    for k, v in new.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# config name -> (model overrides, pipeline transform overrides, expected loss keys)
CASES = {
    'beit_beit-base-p16_8xb256-amp-coslr-300e_in1k': (
        dict(backbone=TINY_VIT, head=dict(embed_dims=32, num_embed=64),
             target_generator=dict(n_hid=8, vocab_size=64)),
        dict(RandomResizedCropAndInterpolationWithTwoPic=dict(size=32, second_size=32),
             BEiTMaskGenerator=BEIT_MASK),
        {'loss'}),
    'beitv2_beit-base-p16_8xb256-amp-coslr-300e_in1k': (
        dict(backbone=dict(TINY_VIT, out_indices=[0, 1]), head=dict(embed_dims=32, num_embed=64),
             neck=dict(early_layers=1, num_layers=1, backbone_arch=dict(TINY, depth=2)),
             target_generator=dict(encoder_config=dict(arch=TINY, img_size=32, patch_size=8), num_embed=64)),
        dict(RandomResizedCropAndInterpolationWithTwoPic=dict(size=32, second_size=32),
             BEiTMaskGenerator=dict(BEIT_MASK, max_num_patches=6)),
        {'loss_1', 'loss_2'}),
    'cae_beit-base-p16_8xb256-amp-coslr-300e_in1k': (
        dict(backbone=TINY_VIT, target_generator=dict(n_hid=8, vocab_size=64),
             neck=dict(num_classes=64, embed_dims=32, num_heads=2, regressor_depth=1, decoder_depth=1,
                       mask_tokens_num=6)),
        dict(RandomResizedCropAndInterpolationWithTwoPic=dict(size=32, second_size=32),
             BEiTMaskGenerator=BEIT_MASK),
        {'loss', 'main', 'align'}),
    'mff_vit-base-p16_8xb512-amp-coslr-300e_in1k': (
        dict(backbone=dict(TINY_VIT, out_indices=[0, 1]),
             neck=dict(num_patches=16, patch_size=8, embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
                       decoder_num_heads=2),
             head=dict(patch_size=8)),
        {'torchvision/Resize': dict(size=32), 'torchvision/RandomCrop': dict(size=32)},
        {'loss', 'weight_0', 'weight_1'}),
    'eva-mae-style_vit-base-p16_16xb256-coslr-400e_in1k': (
        dict(backbone=TINY_VIT,
             neck=dict(num_patches=16, patch_size=8, embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
                       decoder_num_heads=2, predict_feature_dim=16),
             target_generator=CLIP_TARGET),
        dict(RandomResizedCrop=dict(scale=32)),
        {'loss'}),
    'milan_vit-base-p16_16xb256-amp-coslr-400e_in1k': (
        dict(backbone=TINY_VIT,
             neck=dict(num_patches=16, patch_size=8, embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
                       decoder_num_heads=2, predict_feature_dim=16),
             target_generator=CLIP_TARGET),
        dict(RandomResizedCrop=dict(scale=32)),
        {'loss'}),
    'spark_sparse-resnet50_8xb512-amp-coslr-800e_in1k': (
        dict(input_size=64, enc_dec_norm_dim=512, backbone=dict(depth=18), neck=dict(feature_dim=64)),
        dict(RandomResizedCrop=dict(scale=64)),
        {'loss'}),
    'spark_sparse-convnextv2-tiny_16xb256-amp-coslr-800e_in1k': (
        dict(input_size=64, enc_dec_norm_dim=64, neck=dict(feature_dim=32),
             backbone=dict(arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]))),
        dict(RandomResizedCrop=dict(scale=64)),
        {'loss'}),
    'mixmim_mixmim-base_16xb128-coslr-300e_in1k': (
        dict(backbone=dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]), img_size=64,
                           window_size=[4, 4, 4, 2]),
             neck=dict(num_patches=4, embed_dim=128, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)),
        dict(RandomResizedCrop=dict(scale=64)),
        {'loss'}),
    'mae_vit-tiny-p4_cifar10': (
        dict(backbone=dict(arch=TINY), neck=dict(embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
                                                 decoder_num_heads=2)),
        {}, {'loss'}),
    'simmim_swin-base-w6_8xb256-amp-coslr-100e_in1k-192px': (
        dict(backbone=dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]), img_size=64,
                           pad_small_map=True), neck=dict(in_channels=16 * 2 ** 3)),
        dict(RandomResizedCrop=dict(scale=64), SimMIMMaskGenerator=dict(input_size=64)),
        {'loss'}),
    'maskfeat_vit-base-p16_8xb256-amp-coslr-300e_in1k': (
        dict(backbone=TINY_VIT, neck=dict(in_channels=32, out_channels=27)),   # one 8 px HOG cell a patch
        dict(RandomResizedCrop=dict(scale=32), BEiTMaskGenerator=BEIT_MASK),
        {'loss'}),
}
CASES['beitv2_beit-base-p16_8xb256-amp-coslr-1600e_in1k'] = CASES['beitv2_beit-base-p16_8xb256-amp-coslr-300e_in1k']


def _drop_pretrained(cfg):
    if isinstance(cfg, dict):
        if isinstance(cfg.get('init_cfg'), dict) and cfg['init_cfg'].get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for v in cfg.values():
            _drop_pretrained(v)


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('imgs')
    (root / 'a').mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(2):
        arr = torch.randint(0, 256, (40, 48, 3), generator=g, dtype=torch.uint8).numpy()
        Image.fromarray(arr).save(root / 'a' / f'{i}.png')
    return root


@pytest.mark.parametrize('name', sorted(CASES))
def test_config_takes_one_training_step(name, folder):
    model_over, pipe_over, keys = CASES[name]
    cfg = Config.fromfile(name)
    dataset = build(dict(type='CustomDataset', data_root=str(folder), with_label=False,
                         pipeline=_pipeline(cfg, **pipe_over)), DATASETS, key='dataset')
    batch = default_collate([dataset[0], dataset[1]])
    model_cfg = _merge(cfg.model_cfg(), model_over)
    _drop_pretrained(model_cfg)
    torch.manual_seed(0)
    model = build(model_cfg, MODELS, key='model')
    model.init_weights()
    model.train()
    before = {k: v.detach().clone() for k, v in model.backbone.named_parameters()}
    ow = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3))
    log = model.train_step(batch, ow)
    assert keys <= set(log) and all(torch.isfinite(log[k]) for k in keys), log
    assert any(not torch.equal(before[k], v) for k, v in model.backbone.named_parameters())
