"""iTPN and MAE on HiViT: MMPretrain's configs build with its parameter counts, the pyramid's shapes, the
CLIP variant's mask tokens, a training step, and the losses equal MMPretrain's on the same weights, inputs
and seeds (MAE-HiViT: once MMPretrain's decoder no longer shifts the visible tokens by one place), with
MMPretrain's random-init state dicts loading strictly."""
from __future__ import annotations

import pytest
import torch

from fovea.config import Config
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError
from mim_testutil import build_model, samples_with_masks

ARCH = dict(embed_dims=32, depths=[1, 1, 2], num_heads=2)
PIXEL_HEAD = dict(type='MAEPretrainHead', norm_pix=True, patch_size=16,
                  loss=dict(type='PixelReconstructionLoss', criterion='L2'))
ITPN_PIXEL = dict(
    type='iTPN',
    backbone=dict(type='iTPNHiViT', arch=ARCH, img_size=64, reconstruction_type='pixel', mask_ratio=0.75),
    neck=dict(type='iTPNPretrainDecoder', num_patches=16, embed_dim=32, fpn_dim=16, fpn_depth=1,
              decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2, reconstruction_type='pixel'),
    head=PIXEL_HEAD)
ITPN_CLIP = dict(
    type='iTPN',
    backbone=dict(type='iTPNHiViT', arch=ARCH, img_size=64, rpe=True, layer_scale_init_value=0.1,
                  reconstruction_type='clip'),
    neck=dict(type='iTPNPretrainDecoder', embed_dim=32, fpn_dim=16, fpn_depth=1, decoder_embed_dim=32,
              reconstruction_type='clip'),
    head=dict(type='iTPNClipHead', embed_dims=32, num_embed=24, loss=dict(type='CosineSimilarityLoss')))
MAE_HIVIT = dict(
    type='MAE', backbone=dict(type='MAEHiViT', arch=ARCH, img_size=64, mask_ratio=0.75),
    neck=dict(type='MAEPretrainDecoder', num_patches=16, patch_size=16, embed_dim=32, decoder_embed_dim=16,
              decoder_depth=1, decoder_num_heads=2),
    head=PIXEL_HEAD)

# MMPretrain's metafile (iTPN) rounds to 10^6: 233 M (CLIP ViT-B/16 target included), 103 M, 314 M; its
# metafile has no MAE-HiViT entry: those are the counts MMPretrain 1.2.0 builds from the same configs
COUNTS = [('itpn/itpn-clip-b_hivit-base-p16_8xb256-amp-coslr-800e_in1k.py', 233_323_233),
          ('itpn/itpn-pixel_hivit-base-p16_8xb512-amp-coslr-800e_in1k.py', 102_682_400),
          ('itpn/itpn-pixel_hivit-large-p16_8xb512-amp-coslr-800e_in1k.py', 314_253_792),
          ('mae/mae_hivit-base-p16_8xb512-amp-coslr-400e_in1k.py', 98_071_168),
          ('mae/mae_hivit-large-p16_8xb512-amp-coslr-400e_in1k.py', 309_396_288)]


def _masks(n: int = 2, seed: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(16, generator=g).view(4, 4) < 6 for _ in range(n)])


@pytest.mark.parametrize('name,params', COUNTS, ids=[c[0].split('/')[1] for c in COUNTS])
def test_shipped_configs_build_with_mmpretrains_counts(name, params):
    with torch.device('meta'):
        model = MODELS.build(Config.fromfile(name).model_cfg())
    assert sum(p.numel() for p in model.parameters()) == params


def test_pixel_pyramid_shapes_and_training_step():
    model = build_model(ITPN_PIXEL).train()
    x = torch.randn(2, 3, 64, 64)
    (stem4, stem8, tokens), mask, ids_restore = model.backbone(x)
    assert stem4.shape == (2, 4, 4, 4, 8) and stem8.shape == (2, 4, 2, 2, 16) and tokens.shape == (2, 4, 32)
    assert mask.sum(1).tolist() == [12, 12]
    levels = model.neck.pyramid((stem4, stem8, tokens))
    assert [tuple(t.shape) for t in levels] == [(2, 4, 1, 1, 16), (2, 4, 2, 2, 16), (2, 4, 4, 4, 16)]
    assert model.neck((stem4, stem8, tokens), ids_restore).shape == (2, 16, 16 * 16 * 3)
    loss = model.loss(x)['loss']
    loss.backward()
    assert torch.isfinite(loss) and model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.extract_feat(x)[-1].shape == (2, 32, 4, 4)
    with pytest.raises(ConfigError, match='remove MultiView'):
        model.loss([x, x])


def test_clip_variant_replaces_masked_tokens():
    model = build_model(ITPN_CLIP).train()
    x = torch.randn(2, 3, 64, 64)
    masks = _masks()
    target = torch.randn(2, 17, 24)
    model.target_generator = lambda imgs: (target, None)
    loss = model.loss([x, x], samples_with_masks(masks))['loss']
    assert torch.isfinite(loss)
    loss.backward()
    assert model.backbone.mask_token.grad.abs().sum() > 0
    # the main stage starts from the mask token (plus the position embedding) at every masked patch
    bb = model.backbone.eval()
    seen = {}
    bb.main_blocks[0].register_forward_pre_hook(lambda m, args: seen.setdefault('x', args[0]))
    with torch.no_grad():
        out = bb(x, masks)
    assert [tuple(o.shape) for o in out] == [(2, 16, 4, 4, 8), (2, 16, 2, 2, 16), (2, 16, 32)]
    start = seen['x'] - bb.pos_embed
    m = masks.flatten(1)
    torch.testing.assert_close(start[m], bb.mask_token[0].expand(int(m.sum()), -1))
    assert (start[~m] - bb.mask_token[0]).abs().min() > 0
    with pytest.raises(ConfigError, match='two views per image'):
        model.loss(x, samples_with_masks(masks))
    with pytest.raises(ConfigError, match='needs a patch mask per image'):
        model.loss([x, x], None)


@pytest.mark.parametrize('cfg', [ITPN_PIXEL, MAE_HIVIT], ids=['itpn', 'mae-hivit'])
def test_mae_visualize_draws_hivit_models(cfg):
    from fovea.tools.mae_visualize import mae_reconstruction
    model = build_model(cfg)
    img = torch.randint(0, 256, (3, 80, 70), dtype=torch.uint8)
    panels = mae_reconstruction(model, img, seed=1)
    assert list(panels) == ['input', 'masked', 'reconstruction', 'reconstruction + visible']
    assert all(p.shape == (3, 64, 64) and p.dtype == torch.uint8 for p in panels.values())
    masked = (panels['masked'] == 128).all(0)
    assert masked.float().mean() == pytest.approx(0.75)          # 12 of the 16 patches greyed out


def test_neck_arguments_are_checked():
    with pytest.raises(ConfigError, match="'pixel' or 'clip'"):
        MODELS.build(dict(ITPN_PIXEL['neck'], reconstruction_type='dall-e'))
    with pytest.raises(ConfigError, match='num_outs must be 2 or 3'):
        MODELS.build(dict(ITPN_PIXEL['neck'], num_outs=4))
    with pytest.raises(ConfigError, match='set decoder_embed_dim=32'):
        MODELS.build(dict(ITPN_CLIP['neck'], decoder_embed_dim=64))
    neck = MODELS.build(dict(ITPN_PIXEL['neck'], num_patches=9))
    model = build_model(ITPN_PIXEL)
    latent, _, ids_restore = model.backbone(torch.randn(1, 3, 64, 64))
    with pytest.raises(ConfigError, match='num_patches'):
        neck(latent, ids_restore)


def test_mae_hivit_decoder_gets_every_visible_token_at_its_place():
    model = build_model(MAE_HIVIT).train()
    x = torch.randn(2, 3, 64, 64)
    latent, mask, ids_restore = model.backbone(x)
    assert latent.shape == (2, 4, 32) and mask.shape == (2, 16)
    assert model.extract_feat(x)[-1].shape == (2, 32, 4, 4)
    torch.manual_seed(0)
    loss = model.loss(x)['loss']
    assert torch.isfinite(loss)
    # the decoder's input at a visible patch's position is that patch's token (MMPretrain: its neighbour's)
    seen = {}
    model.neck.decoder_blocks[0].register_forward_pre_hook(lambda m, args: seen.setdefault('x', args[0]))
    torch.manual_seed(0)
    latent, mask, ids_restore = model.backbone(x)
    torch.manual_seed(0)
    model.reconstruct(x)
    place = torch.argsort(ids_restore, dim=1)[:, :latent.shape[1]]          # latent token j is patch place[:, j]
    got = seen['x'][:, 1:] - model.neck.decoder_pos_embed[:, 1:]
    got = got.gather(1, place.unsqueeze(-1).expand(-1, -1, got.shape[-1]))
    torch.testing.assert_close(got, model.neck.decoder_embed(latent))


_REFERENCE_BODY = '''
from mmpretrain.structures import DataSample
result = {}
for name, cfg in data['cfgs'].items():
    model = build(cfg, data['states'][name], ('relative_position_index',))
    inputs, samples = data['inputs'][name], None
    if name in ('pixel', 'mae'):
        # MMPretrain compares the visible tokens' count with the grid's, so a masked image's fixed position
        # embedding goes through a bicubic resize at scale (4 + 0.1) / 4; record that loss, then drop the resize
        torch.manual_seed(0)
        result[name + '_resized'] = float(model.loss(inputs, samples)['loss'])
        model.backbone.interpolate_pos_encoding = lambda x, h, w: model.backbone.pos_embed
    if name.startswith('clip'):
        target = data['target']
        model.target_generator = lambda imgs: (target, None)
        samples = []
        for m in data['masks']:
            s = DataSample(); s.set_mask(m); samples.append(s)
    torch.manual_seed(0)
    result[name] = float(model.loss(inputs, samples)['loss'])
    if name == 'mae':                 # with the visible tokens at their own places (the class slot: their mean)
        torch.manual_seed(0)
        latent, mask, ids_restore = model.backbone(inputs)
        pred = model.neck(torch.cat([latent.mean(1, keepdim=True), latent], 1), ids_restore)
        result['mae_fixed'] = float(model.head.loss(pred, inputs, mask))
    fresh = MODELS.build(cfg)         # a random-init MMPretrain model, saved as an mmengine checkpoint
    fresh.init_weights()
    torch.save(dict(meta=dict(epoch=1), state_dict=fresh.state_dict()), data['out'] + f'/{name}.pth')
'''


@pytest.mark.reference
def test_losses_match_mmpretrain_and_its_checkpoints_load(tmp_path):
    from reference_testutil import run_mmpretrain
    from fovea.convert import load_weights
    clip_ce = dict(ITPN_CLIP, head=dict(ITPN_CLIP['head'], loss=dict(type='CrossEntropyLoss')))
    cfgs = dict(pixel=ITPN_PIXEL, clip=ITPN_CLIP, clip_ce=clip_ce, mae=MAE_HIVIT)
    models = {name: build_model(cfg, seed=i).train() for i, (name, cfg) in enumerate(cfgs.items())}
    x, view2 = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    inputs = dict(pixel=x, clip=[x, view2], clip_ce=[x, view2], mae=x)
    masks, target = _masks(), torch.randn(2, 17, 24)
    ours = {}
    for name, model in models.items():
        samples = None
        if name.startswith('clip'):
            model.target_generator = lambda imgs: (target, None)
            samples = samples_with_masks(masks)
        torch.manual_seed(0)
        ours[name] = model.loss(inputs[name], samples)['loss'].item()
    states = {name: m.state_dict() for name, m in models.items()}
    ref = run_mmpretrain(tmp_path, dict(cfgs=cfgs, states=states, inputs=inputs, masks=masks, target=target,
                                        out=str(tmp_path)), _REFERENCE_BODY)
    for name in ('pixel', 'clip', 'clip_ce'):
        assert ours[name] == pytest.approx(ref[name], rel=1e-5, abs=1e-6), name
    assert ours['mae'] == pytest.approx(ref['mae_fixed'], rel=1e-5, abs=1e-6)
    assert abs(ref['mae'] - ref['mae_fixed']) > 1e-4          # MMPretrain's own decoder shifts the tokens
    assert ref['pixel_resized'] != ref['pixel'] and ref['mae_resized'] != ref['mae']   # and resizes the table
    for name, cfg in cfgs.items():
        fresh = MODELS.build(cfg)
        report = load_weights(fresh, str(tmp_path / f'{name}.pth'), strict=True, log=False)
        mm = torch.load(tmp_path / f'{name}.pth')['state_dict']
        for k, v in fresh.state_dict().items():
            torch.testing.assert_close(v, mm[k], msg=f'{name}: {k}')
        assert report is not None
