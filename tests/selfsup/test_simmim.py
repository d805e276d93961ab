"""SimMIM: the mask token replaces exactly the masked patches, the head scores only masked pixels,
masks come from the pipeline (clear error otherwise), and the loss equals MMPretrain's."""
from __future__ import annotations

import pytest
import torch

from mim_testutil import mmpretrain_loss, samples_with_masks

from fovea.data.transforms import SimMIMMaskGenerator
from fovea.registry import MODELS, build
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError, DataError

CFG = dict(type='SimMIM',
           backbone=dict(type='SimMIMSwinTransformer', arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]),
                         img_size=32, stage_cfgs=dict(block_cfgs=dict(window_size=4)), pad_small_map=True, drop_path_rate=0.),
           neck=dict(type='SimMIMLinearDecoder', in_channels=16 * 2 ** 3, encoder_stride=32),
           head=dict(type='SimMIMHead', patch_size=4, loss=dict(type='PixelReconstructionLoss', criterion='L1', channel=3)))


def _model():
    torch.manual_seed(0)
    model = build(CFG, MODELS)
    model.init_weights()
    return model


def _samples(n, seed=0):
    import numpy as np
    np.random.seed(seed)
    gen = SimMIMMaskGenerator(input_size=32, mask_patch_size=8, model_patch_size=4, mask_ratio=0.6)
    return [DataSample().set_field(gen({})['mask'], 'mask') for _ in range(n)]


def test_mask_token_replaces_only_masked_patches():
    model = _model().eval()
    bb = model.backbone
    x = torch.randn(2, 3, 32, 32)
    mask = torch.zeros(2, 8, 8, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(bb(x, mask)[0], bb(x)[0])               # nothing masked: plain Swin
        bb.mask_token.fill_(0.)
        mask[:, :4] = True
        tokens, hw = bb.patch_embed(x)
        seen = {}
        bb._forward_tokens = lambda t, s: seen.setdefault('t', t)
        bb(x, mask)
        assert (seen['t'][:, :32] == 0).all() and torch.equal(seen['t'][:, 32:], tokens[:, 32:])


def test_loss_counts_only_masked_pixels():
    model = _model().eval()                     # no stochastic depth: both forwards are the same
    x = torch.randn(2, 3, 32, 32)
    samples = _samples(2)
    loss = model.loss(x, samples)['loss']
    assert torch.isfinite(loss)
    pred = model.neck(model.backbone(x, torch.stack([s.mask for s in samples]))[0])
    pix = torch.stack([s.mask for s in samples]).repeat_interleave(4, 1).repeat_interleave(4, 2)
    expected = (pred - x).abs().mean(1)[pix].mean()
    torch.testing.assert_close(loss, expected)


def test_missing_or_wrong_mask_is_a_clear_error():
    model = _model()
    with pytest.raises(ConfigError, match="SimMIMMaskGenerator.*train_dataloader.dataset.pipeline"):
        model.loss(torch.randn(2, 3, 32, 32), [DataSample(), DataSample()])
    bad = [DataSample().set_field(torch.zeros(4, 4, dtype=torch.bool), 'mask') for _ in range(2)]
    with pytest.raises(DataError, match='input_size'):
        model.loss(torch.randn(2, 3, 32, 32), bad)


@pytest.mark.reference
def test_loss_matches_mmpretrain(tmp_path):
    model = _model().train()
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    masks = torch.stack([s.mask for s in _samples(3)])
    ref = mmpretrain_loss(CFG, model.state_dict(), x, masks.long(), tmp_path,   # MMPretrain's masks are ints
                          derived=('relative_position_index',))
    assert model.loss(x, samples_with_masks(masks))['loss'].item() == pytest.approx(ref['loss'], rel=1e-5, abs=1e-6)
