"""Shared transformer layers: attention, window ops, position-table resizing, patch embedding/merging."""
import math

import pytest
import torch
import torch.nn.functional as F

from fovea.models.layers import (FFN, MultiheadAttention, PatchEmbed, PatchMerging, ShiftWindowMSA,
                                 TransformerEncoderLayer, WindowMSA, relative_position_index, resize_pos_embed,
                                 resize_relative_position_bias_table, shifted_window_mask, window_partition,
                                 window_reverse)


def _reference_attention(attn: MultiheadAttention, x, mask=None):
    B, N, _ = x.shape
    q, k, v = attn.qkv(x).reshape(B, N, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    logits = q @ k.transpose(-2, -1) / math.sqrt(attn.head_dims)
    if mask is not None:
        logits = logits.masked_fill(~mask, float('-inf')) if mask.dtype == torch.bool else logits + mask
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(B, N, -1)
    return attn.proj(out)


@pytest.mark.parametrize('qkv_bias', [True, False])
def test_attention_matches_explicit_softmax(qkv_bias):
    attn = MultiheadAttention(32, 4, qkv_bias=qkv_bias).eval()
    x = torch.randn(2, 7, 32)
    assert (attn.qkv.bias is not None) == qkv_bias
    torch.testing.assert_close(attn(x), _reference_attention(attn, x), atol=1e-5, rtol=1e-5)
    keep = torch.rand(2, 1, 7, 7) > 0.3
    keep[..., 0] = True  # every query attends to something
    torch.testing.assert_close(attn(x, attn_mask=keep), _reference_attention(attn, x, keep), atol=1e-5, rtol=1e-5)
    bias = torch.randn(1, 4, 7, 7)
    torch.testing.assert_close(attn(x, attn_mask=bias), _reference_attention(attn, x, bias), atol=1e-5, rtol=1e-5)


def test_attention_rejects_bad_heads():
    with pytest.raises(ValueError, match='not divisible by num_heads'):
        MultiheadAttention(30, 4)


def test_encoder_layer_drop_path_and_layer_scale():
    layer = TransformerEncoderLayer(16, 2, 32, drop_path_rate=0.5, layer_scale_init_value=1e-5)
    x = torch.randn(8, 5, 16)
    layer.eval()
    # LayerScale 1e-5 keeps the layer close to the identity; eval mode is deterministic
    assert (layer(x) - x).abs().max() < 1e-3
    torch.testing.assert_close(layer(x), layer(x))
    layer.train()
    assert not torch.equal(layer(x), layer(x))  # stochastic depth drops samples at random
    assert [n for n, _ in layer.named_parameters() if 'gamma' in n] == ['attn.gamma1.weight', 'ffn.gamma2.weight']


def test_ffn_names_follow_mmcv():
    ffn = FFN(8, 16, act_cfg=dict(type='GELU'))
    assert set(ffn.state_dict()) == {'layers.0.0.weight', 'layers.0.0.bias', 'layers.1.weight', 'layers.1.bias'}
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(ffn(x), x + ffn.layers(x))


def test_window_partition_roundtrip():
    x = torch.randn(2, 14, 21, 5)
    w = window_partition(x, 7)
    assert w.shape == (2 * 2 * 3, 7, 7, 5)
    torch.testing.assert_close(w[1], x[0, :7, 7:14])  # windows run row-major per image
    torch.testing.assert_close(window_reverse(w, 14, 21, 7), x)


def test_relative_position_index_matches_mmpretrain_formula():
    # MMPretrain's construction (double_step_seq + flip), written out independently
    wh, ww = 7, 7
    seq = (torch.arange(0, (2 * ww - 1) * wh, 2 * ww - 1)[:, None] + torch.arange(ww)[None]).reshape(1, -1)
    expected = (seq + seq.T).flip(1)
    assert torch.equal(relative_position_index((wh, ww)), expected)
    # a shrunk window reads the centre of the big table: offset (0, 0) maps to the same row
    small = relative_position_index((3, 3), (7, 7))
    assert small[4, 4] == expected[24, 24]


def test_shifted_window_mask_blocks_the_seams():
    mask = shifted_window_mask(8, 8, 4, 2)
    assert mask.shape == (4, 16, 16)
    assert torch.all(mask[0] == 0)  # the top-left window holds one region only
    assert set(mask.unique().tolist()) == {-100.0, 0.0}
    assert shifted_window_mask(8, 8, 4, 0) is None


@pytest.mark.parametrize('shift', [0, 2])
def test_shift_window_attention_is_local(shift):
    """A token only sees tokens of its own (shifted) window: perturbing a far token changes nothing."""
    torch.manual_seed(0)
    msa = ShiftWindowMSA(8, 2, window_size=4, shift_size=shift).eval()
    H, W = 10, 9  # not multiples of the window: padded to 12 x 12
    x = torch.randn(1, H * W, 8)
    y = msa(x, (H, W))
    assert y.shape == x.shape
    x2 = x.clone().view(1, H, W, 8)
    x2[0, H - 1, W - 1] += 10.0  # bottom-right corner
    y2 = msa(x2.view(1, H * W, 8), (H, W)).view(1, H, W, 8)
    y = y.view(1, H, W, 8)
    # the top-left token is in another window with or without the shift (after the cyclic roll the
    # corner lands in the top-left window, but behind the seam mask)
    torch.testing.assert_close(y2[0, 0, 0], y[0, 0, 0])
    assert not torch.allclose(y2[0, H - 1, W - 1], y[0, H - 1, W - 1])


def test_small_map_is_refused_unless_padding():
    msa = ShiftWindowMSA(8, 2, window_size=7, shift_size=3).eval()
    x = torch.randn(2, 9, 8)
    with pytest.raises(AssertionError, match=r'\(3, 3\) is smaller than the window size \(7\)'):  # as MMPretrain
        msa(x, (3, 3))
    padded = ShiftWindowMSA(8, 2, window_size=7, shift_size=3, pad_small_map=True).eval()
    padded.load_state_dict(msa.state_dict())
    assert padded(x, (3, 3)).shape == (2, 9, 8)
    assert msa(torch.randn(2, 49, 8), (7, 7)).shape == (2, 49, 8)  # a map of one window: no shift


def test_window_msa_matches_explicit_bias_attention():
    msa = WindowMSA(16, (3, 3), 2).eval()
    torch.nn.init.normal_(msa.relative_position_bias_table)
    x = torch.randn(4, 9, 16)
    q, k, v = msa.qkv(x).reshape(4, 9, 3, 2, 8).permute(2, 0, 3, 1, 4)
    logits = q @ k.transpose(-2, -1) * 8 ** -0.5
    bias = msa.relative_position_bias_table[relative_position_index((3, 3)).view(-1)].view(9, 9, 2).permute(2, 0, 1)
    mask = torch.zeros(2, 9, 9)
    mask[1, :, 4:] = -100.
    ref = ((logits + bias + mask.repeat(2, 1, 1)[:, None]).softmax(-1) @ v).transpose(1, 2).reshape(4, 9, 16)
    torch.testing.assert_close(msa(x, mask=mask), msa.proj(ref), atol=1e-5, rtol=1e-5)


def test_resize_pos_embed():
    pe = torch.cat([torch.full((1, 1, 4), 7.), torch.ones(1, 16, 4) * 3], 1)
    out = resize_pos_embed(pe, (4, 4), (6, 5), num_extra_tokens=1)
    assert out.shape == (1, 31, 4)
    assert torch.equal(out[:, :1], pe[:, :1])
    torch.testing.assert_close(out[:, 1:], torch.full((1, 30, 4), 3.))
    assert resize_pos_embed(pe, (4, 4), (4, 4)) is pe
    with pytest.raises(ValueError, match='img_size'):
        resize_pos_embed(pe, (5, 5), (6, 6))


def test_resize_relative_position_bias_table():
    table = torch.randn(13 * 13, 3)
    out = resize_relative_position_bias_table(13, 23, table)
    assert out.shape == (23 * 23, 3)
    # the zero-offset entry stays (close to) where it was: the centre of the table
    torch.testing.assert_close(out[11 * 23 + 11], table[6 * 13 + 6], atol=0.3, rtol=0)
    const = torch.ones(13 * 13, 2)
    torch.testing.assert_close(resize_relative_position_bias_table(13, 23, const), torch.ones(23 * 23, 2))


def test_patch_embed_conv_equals_linear_and_pads():
    conv = PatchEmbed(3, 12, kernel_size=4, input_size=18)
    assert conv.init_out_size == (5, 5)  # 18 is padded to 20 ('corner')
    lin = PatchEmbed(3, 12, conv_type='Linear', kernel_size=4)
    lin.projection.weight.data = conv.projection.weight.data.reshape(12, -1)
    lin.projection.bias.data = conv.projection.bias.data
    x = torch.randn(2, 3, 18, 18)
    (a, hw_a), (b, hw_b) = conv(x), lin(x)
    assert hw_a == hw_b == (5, 5)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_patch_merging_matches_unfold_order():
    pm = PatchMerging(6, 12, norm_cfg=None)
    x = torch.randn(2, 5 * 7, 6)
    out, hw = pm(x, (5, 7))
    assert hw == (3, 4)
    img = F.pad(x.view(2, 5, 7, 6).permute(0, 3, 1, 2), (0, 1, 0, 1))
    ref = pm.reduction(F.unfold(img, 2, stride=2).transpose(1, 2))
    torch.testing.assert_close(out, ref)
