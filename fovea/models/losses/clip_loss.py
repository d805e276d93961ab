"""CLIP's symmetric contrastive loss (Radford et al., ICML 2021) as open_clip's ``ClipLoss``.

``logits = logit_scale * image @ text.T`` over the global batch (every rank's features gathered
with gradients, :func:`fovea.utils.dist.all_gather_with_grad`); the loss is the mean of the
image->text and text->image cross-entropies with the matching pair as target.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.registry import MODELS
from fovea.utils.dist import all_gather_with_grad, concat_all_gather, get_dist_info

__all__ = ['ClipLoss']


@MODELS.register_module()
class ClipLoss(nn.Module):
    """open_clip's ``ClipLoss``.

    Args:
        local_loss: each rank scores only its own rows against all ranks' columns (labels offset by
            the rank); less memory, the same gradient once DDP averages.
        gather_with_grad: gradients flow through the gathered features of the other ranks (otherwise
            only this rank's own slot carries a gradient, open_clip's default).
        loss_weight: multiplies the loss.
        same_label_positives: with ``labels`` given, every pair whose labels match is a positive (the
            target spreads evenly over them) instead of only the pair itself, so that captions of the
            same class are not pushed apart.

    ``forward(image_features, text_features, logit_scale, labels=None)``: L2-normalised (B, D) features
    of this rank, ``logit_scale`` the already exponentiated temperature, optional (B,) labels; returns a
    scalar.
    """

    def __init__(self, local_loss: bool = False, gather_with_grad: bool = True, loss_weight: float = 1.0,
                 same_label_positives: bool = False):
        super().__init__()
        self.local_loss = local_loss
        self.gather_with_grad = gather_with_grad
        self.loss_weight = loss_weight
        self.same_label_positives = same_label_positives

    def _gather(self, x: torch.Tensor, rank: int, world: int) -> torch.Tensor:
        if world == 1:
            return x
        if self.gather_with_grad:
            return all_gather_with_grad(x)
        parts = list(concat_all_gather(x).chunk(world))
        parts[rank] = x
        return torch.cat(parts)

    def logits(self, image_features: torch.Tensor, text_features: torch.Tensor,
               logit_scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits_per_image, logits_per_text, labels) as this rank scores them."""
        rank, world = get_dist_info()
        all_image = self._gather(image_features, rank, world)
        all_text = self._gather(text_features, rank, world)
        n = image_features.shape[0]
        if self.local_loss:
            per_image = logit_scale * image_features @ all_text.T
            per_text = logit_scale * text_features @ all_image.T
            labels = torch.arange(n, device=image_features.device) + n * rank
        else:
            per_image = logit_scale * all_image @ all_text.T
            per_text = per_image.T
            labels = torch.arange(per_image.shape[0], device=image_features.device)
        return per_image, per_text, labels

    def forward(self, image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        per_image, per_text, targets = self.logits(image_features, text_features, logit_scale)
        if self.same_label_positives and labels is not None:
            rank, world = get_dist_info()
            columns = concat_all_gather(labels) if world > 1 else labels
            rows = labels if self.local_loss else columns
            match = (rows[:, None] == columns[None, :]).float()
            targets = match / match.sum(1, keepdim=True)
        loss = (F.cross_entropy(per_image, targets) + F.cross_entropy(per_text, targets)) / 2
        return self.loss_weight * loss
