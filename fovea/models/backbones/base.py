"""The backbone contract: which outputs a backbone returns, how wide they are, and how to get them.

Every backbone in this folder subclasses :class:`BaseBackbone` and, in ``__init__``, declares its
selectable outputs, one entry per index that ``out_indices`` can name::

    self.stage_channels = (256, 512, 1024, 2048)   # widths
    self.stage_reductions = (4, 8, 16, 32)          # input size / output size (None: not a map)

From these the base answers, for the outputs chosen by ``out_indices``: ``out_channels`` (a
tuple aligned with ``out_indices``, what a neck or head's ``in_channels`` must be) and
``feature_info`` (timm's names: ``[{'index', 'num_chs', 'reduction'}]``).
``forward_features(x, indices)`` returns other outputs than the built ones without rebuilding
(timm's ``forward_intermediates``), and ``fovea.get_model(name, features_only=True,
out_indices=...)`` builds a named model's backbone alone, pretrained weights included.

``frozen_stages`` and ``norm_eval``: ``train()`` re-applies :meth:`_freeze_stages` (what freezing
means is the backbone's own, MMPretrain's semantics) and keeps batch norms in eval mode when
``norm_eval`` is set, so ``model.train()`` never unfreezes them.
"""
from __future__ import annotations

from typing import Sequence

import torch

from fovea.models.base import BaseModule
from fovea.models.layers.freeze import set_bn_eval

__all__ = ['BaseBackbone']


class BaseBackbone(BaseModule):
    """Base of fovea's backbones: ``forward(x) -> tuple`` of the outputs named by ``out_indices``."""

    #: convolutional backbones run faster with channels_last memory (the Runner reads this)
    prefers_channels_last: bool = False
    #: outputs of backbones without ``out_indices`` (one output)
    out_indices: tuple[int, ...] = (0,)
    frozen_stages: int = -1
    norm_eval: bool = False
    #: widths and reductions of every output ``out_indices`` can select; set in ``__init__``
    stage_channels: tuple[int, ...] = ()
    stage_reductions: tuple[int | None, ...] = ()

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Widths of the outputs ``forward`` returns, in order (aligned with ``out_indices``)."""
        return tuple(self.stage_channels[i] for i in self.out_indices)

    @property
    def feature_info(self) -> list[dict]:
        """timm-style description of the returned outputs: index, ``num_chs`` and ``reduction``."""
        return [dict(index=i, num_chs=self.stage_channels[i], reduction=self.stage_reductions[i])
                for i in self.out_indices]

    @property
    def selectable_indices(self) -> tuple[int, ...]:
        """Indices :meth:`forward_features` accepts (all stages unless outputs have their own layers)."""
        return tuple(range(len(self.stage_channels)))

    def forward_features(self, x: torch.Tensor, indices: int | Sequence[int] | None = None) -> list[torch.Tensor]:
        """The outputs at ``indices`` (default: ``out_indices``; negative counts from the end), as
        ``forward`` would return them had the backbone been built with ``out_indices=indices``."""
        n = len(self.stage_channels)
        if indices is None:
            wanted = tuple(self.out_indices)
        else:
            wanted = tuple(sorted({i + n if i < 0 else i for i in ([indices] if isinstance(indices, int)
                                                                  else indices)}))
        bad = [i for i in wanted if i not in self.selectable_indices]
        if bad:
            raise ValueError(f'{type(self).__name__}.forward_features: indices {bad} are not available; choose '
                             f'from {list(self.selectable_indices)}'
                             + (' (outputs with their own norm layers exist only for the out_indices the '
                                'backbone was built with: build it with out_indices=... instead)'
                                if len(self.selectable_indices) < n else ''))
        built = self.out_indices
        self.out_indices = wanted
        try:
            return list(self(x))
        finally:
            self.out_indices = built

    def _freeze_stages(self) -> None:
        """Put the frozen part (``frozen_stages``) in eval mode with ``requires_grad=False``."""

    def train(self, mode: bool = True) -> 'BaseBackbone':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_bn_eval(self)
        return self
