"""Masked window attention gives the same values and gradients on its explicit (CPU training) path as SDPA."""
import torch
import torch.nn.functional as F

from fovea.models.layers.window_attention import masked_attention


def test_explicit_training_path_matches_sdpa():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 6, 49, 32, requires_grad=True) for _ in range(3))
    mask = torch.randn(1, 6, 49, 49)
    out = masked_attention(q, k, v, mask, 0., 32 ** -0.5)          # grad enabled on CPU: explicit form
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=32 ** -0.5)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(out)
    grads = torch.autograd.grad(out, (q, k, v), g)
    ref_grads = torch.autograd.grad(ref, (q, k, v), g)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    with torch.no_grad():                                           # inference: SDPA itself
        torch.testing.assert_close(masked_attention(q, k, v, mask, 0., 32 ** -0.5), ref.detach(),
                                   rtol=1e-5, atol=1e-5)
