"""ColorizationHead: per-pixel ab colour prediction for Colorization (Zhang et al. 2016 style)."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['ColorizationHead']


@MODELS.register_module()
class ColorizationHead(BaseModule):
    """ab colours at the resolution of the last feature map, classified into quantised bins or regressed.

    ``mode='classification'`` (Zhang et al.): the ab plane ``[-ab_range, ab_range]^2`` is cut into a
    grid of ``grid_size``-unit bins (the default 10 units over +-110: 22 x 22 = 484 bins, of which
    Zhang et al.'s 313 are the in-gamut ones; the others never occur as targets). The target of each
    output cell is the bin of its mean ab (hard assignment, where Zhang et al. soft-encode 5
    neighbours). The cross-entropy is class-rebalanced: ``w ~ 1 / ((1 - lambda) p + lambda / Q)``,
    normalised so that ``E_p[w] = 1``, where ``p`` is the bin prior smoothed by a Gaussian of
    ``sigma`` ab units; fovea estimates ``p`` as a running average of the training batches' bin
    histograms (``prior_momentum``; the buffer ``prior`` is saved with the model) instead of over
    ImageNet beforehand. Predictions are the annealed mean (``temperature``, Zhang et al.'s 0.38).
    ``mode='regression'``: two output channels, mean squared error on ``ab / ab_range``.

    Args:
        in_channels: width of the backbone's last feature map.
        hid_channels: width of the 3x3 conv-BN-ReLU before the 1x1 classifier.
    """

    def __init__(self, in_channels: int, hid_channels: int = 256, mode: str = 'classification',
                 grid_size: float = 10.0, ab_range: float = 110.0, rebalance_lambda: float = 0.5,
                 sigma: float = 5.0, prior_momentum: float = 0.99, temperature: float = 0.38,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        if mode not in ('classification', 'regression'):
            raise ConfigError(f"ColorizationHead mode must be 'classification' or 'regression', got {mode!r}")
        self.mode, self.ab_range, self.grid_size = mode, ab_range, grid_size
        self.rebalance_lambda, self.prior_momentum, self.temperature = rebalance_lambda, prior_momentum, temperature
        self.bins_per_side = int(round(2 * ab_range / grid_size))
        self.num_bins = self.bins_per_side ** 2
        out = self.num_bins if mode == 'classification' else 2
        self.conv = nn.Sequential(nn.Conv2d(in_channels, hid_channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(hid_channels), nn.ReLU(inplace=True),
                                  nn.Conv2d(hid_channels, out, 1))
        centres = (torch.arange(self.bins_per_side) + 0.5) * grid_size - ab_range
        a, b = torch.meshgrid(centres, centres, indexing='ij')
        self.register_buffer('bin_centres', torch.stack((a.flatten(), b.flatten()), 1), persistent=False)  # (Q, 2)
        self.register_buffer('prior', torch.full((self.num_bins,), 1.0 / self.num_bins))
        radius = max(1, int(round(3 * sigma / grid_size)))
        k = torch.exp(-0.5 * ((torch.arange(-radius, radius + 1) * grid_size / sigma) ** 2))
        self.register_buffer('_smooth', (k[:, None] * k[None]) / k.sum() ** 2, persistent=False)

    def forward(self, feats: Any) -> torch.Tensor:
        return self.conv(feats[-1] if isinstance(feats, (list, tuple)) else feats)

    def quantise(self, ab: torch.Tensor) -> torch.Tensor:
        """(N, 2, h, w) ab values to (N, h, w) bin indices."""
        idx = ((ab + self.ab_range) / self.grid_size).floor().long().clamp(0, self.bins_per_side - 1)
        return idx[:, 0] * self.bins_per_side + idx[:, 1]

    def class_weights(self) -> torch.Tensor:
        """The rebalancing weight of each bin under the current (smoothed) prior."""
        side = self.bins_per_side
        p = F.conv2d(self.prior.view(1, 1, side, side), self._smooth[None, None], padding=self._smooth.shape[0] // 2)
        p = p.flatten() / p.sum()
        w = 1.0 / ((1 - self.rebalance_lambda) * p + self.rebalance_lambda / self.num_bins)
        return w / (p * w).sum()

    def loss(self, feats: Any, gt_ab: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self(feats)
        target = F.adaptive_avg_pool2d(gt_ab.to(out.dtype), out.shape[-2:])
        if self.mode == 'regression':
            return {'loss': F.mse_loss(out, target / self.ab_range)}
        q = self.quantise(target)
        if self.training:
            with torch.no_grad():
                hist = torch.bincount(q.flatten(), minlength=self.num_bins).float()
                self.prior.mul_(self.prior_momentum).add_(hist / hist.sum(), alpha=1 - self.prior_momentum)
        ce = F.cross_entropy(out, q, reduction='none')
        loss = (self.class_weights()[q] * ce).mean()
        acc = (out.detach().argmax(1) == q).float().mean() * 100
        return {'loss': loss, 'accuracy_top-1': acc}

    def predict_ab(self, feats: Any) -> torch.Tensor:
        """(N, 2, h, w) ab: the annealed mean of the bin distribution (or the regressed values)."""
        out = self(feats)
        if self.mode == 'regression':
            return out * self.ab_range
        prob = F.softmax(out.float() / self.temperature, dim=1)
        return torch.einsum('nqhw,qc->nchw', prob, self.bin_centres)
