"""Video classification heads of 2D recognizers (MMAction2's ``TSNHead`` and ``TSMHead``).

Both take the backbone's last feature map of every frame, (N * V, C, H, W), where V is the number
of frames per video in the batch (``num_segs``: segments x clips x crops):

* :class:`TSNHead` (Wang et al., "Temporal Segment Networks", ECCV 2016) pools each frame, averages
  the V frames' features (average consensus) and classifies the average: one score per video, so
  at test time all clips and crops are averaged at once.
* :class:`TSMHead` classifies every frame, averages the scores of each group of ``num_segments``
  frames (one clip), and at test time averages the clips' scores (``average_clips``).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.data_preprocessor import samples_to_targets
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError

__all__ = ['AvgConsensus', 'TSNHead', 'TSMHead']


@MODELS.register_module()
class AvgConsensus(nn.Module):
    """Average over dimension ``dim`` (kept), MMAction2's segmental consensus."""

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dim, keepdim=True)


class _VideoHead(BaseModule):
    """Shared parts: pooling, dropout, the classifier, loss, clip averaging and predictions.

    Args:
        num_classes / in_channels: classes and the backbone's last output width.
        loss_cls: loss config (softmax cross-entropy).
        spatial_type: 'avg' pools each frame's map; None takes already pooled (N*V, C) features.
        consensus: ``dict(type='AvgConsensus', dim=1)`` (the only consensus MMAction2's 2D heads use).
        dropout_ratio / init_std: dropout before the classifier and the std of its normal init.
        topk: top-k training accuracies logged next to the loss (k above num_classes are left out).
        average_clips: how a video's clip scores are combined at test time, 'score' (mean of the
            logits) or 'prob' (mean of the softmax probabilities, MMAction2's shipped configs).
    """

    def __init__(self, num_classes: int, in_channels: int, loss_cls: dict | None = None,
                 spatial_type: str | None = 'avg', consensus: dict | None = None, dropout_ratio: float = 0.4,
                 init_std: float = 0.01, topk: int | Sequence[int] = (1, 5), average_clips: str | None = 'prob',
                 multi_class: bool = False, label_smooth_eps: float = 0., init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if num_classes <= 0:
            raise ConfigError(f'{type(self).__name__}: num_classes must be positive, got {num_classes}')
        if average_clips not in ('score', 'prob'):
            raise ConfigError(f"{type(self).__name__}: average_clips={average_clips!r}; use 'score' or 'prob' "
                              f"(fovea's metrics take one score per video, so per-clip scores (None) are not "
                              f"returned).")
        if multi_class or label_smooth_eps:
            raise ConfigError(f'{type(self).__name__}: multi_class and label_smooth_eps are not implemented in '
                              f'fovea; remove them from the head config.')
        consensus = dict(consensus or dict(type='AvgConsensus', dim=1))
        if consensus.get('type') != 'AvgConsensus':
            raise ConfigError(f"{type(self).__name__}: consensus type {consensus.get('type')!r} is not "
                              f"implemented; use dict(type='AvgConsensus', dim=1).")
        self.num_classes, self.in_channels = num_classes, in_channels
        self.loss_cls = MODELS.build(loss_cls or dict(type='CrossEntropyLoss'), key='loss_cls')
        self.spatial_type = spatial_type
        self.consensus = MODELS.build(consensus, key='consensus')
        self.avg_pool = nn.AdaptiveAvgPool2d(1) if spatial_type == 'avg' else None
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio else None
        self.dropout_ratio, self.init_std = dropout_ratio, init_std
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        self.average_clips = average_clips
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            nn.init.normal_(self.fc_cls.weight, 0, self.init_std)
            nn.init.zeros_(self.fc_cls.bias)

    def _pool(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        if isinstance(x, (tuple, list)):
            x = x[-1]
        if self.avg_pool is not None and x.ndim == 4:
            x = self.avg_pool(x)
        return x.flatten(1)

    def forward(self, x, num_segs: int) -> torch.Tensor:
        """Class scores, (N, num_classes) for TSN; (N * clips, num_classes) for TSM."""
        raise NotImplementedError

    def loss(self, feats, data_samples: list[DataSample], num_segs: int) -> dict[str, torch.Tensor]:
        cls_score = self(feats, num_segs)
        if cls_score.shape[0] != len(data_samples):
            raise ValueError(f'{type(self).__name__}: {num_segs} frames per video give {cls_score.shape[0]} clip '
                             f'scores for {len(data_samples)} videos; in training sample one clip of the '
                             f'head\'s num_segments frames per video (SampleFrames num_clips=num_segments, '
                             f'clip_len=1).')
        target = samples_to_targets(data_samples, device=cls_score.device)
        losses = {'loss_cls': self.loss_cls(cls_score, target)}
        if target.ndim == 1:
            with torch.no_grad():
                ks = [k for k in self.topk if k <= self.num_classes]
                top = cls_score.topk(max(ks), dim=1).indices
                for k in ks:
                    losses[f'top{k}_acc'] = (top[:, :k] == target[:, None]).any(1).float().mean()
        return losses

    def average_clip(self, cls_score: torch.Tensor, num_clips: int) -> torch.Tensor:
        """(N * num_clips, classes) -> (N, classes): the mean of the clips' scores or probabilities."""
        cls_score = cls_score.view(-1, num_clips, cls_score.shape[-1])
        if self.average_clips == 'prob':
            cls_score = F.softmax(cls_score, dim=2)
        return cls_score.mean(dim=1)

    def predict(self, feats, data_samples: list[DataSample], num_segs: int) -> list[DataSample]:
        """``pred_score`` (the clips' average, see ``average_clips``) and ``pred_label`` of each video,
        set on ``data_samples`` (one per video)."""
        cls_score = self(feats, num_segs)
        scores = self.average_clip(cls_score.float(), cls_score.shape[0] // len(data_samples)).detach()
        for s, score in zip(data_samples, scores):
            s.set_pred_score(score).set_pred_label(score.argmax(keepdim=True))
        return data_samples


@MODELS.register_module()
class TSNHead(_VideoHead):
    """TSN's head: average consensus of the frames' pooled features, dropout, a linear classifier
    (MMAction2's defaults: ``dropout_ratio=0.4``, ``init_std=0.01``). See :class:`_VideoHead`."""

    def forward(self, x, num_segs: int) -> torch.Tensor:
        x = self._pool(x)
        x = self.consensus(x.view(-1, num_segs, x.shape[-1])).squeeze(1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x)


@MODELS.register_module()
class TSMHead(_VideoHead):
    """TSM's head: every frame classified, the scores of each clip's ``num_segments`` frames
    averaged (MMAction2's defaults: ``num_segments=8``, ``dropout_ratio=0.8``, ``init_std=0.001``).

    Args:
        num_segments: frames per clip (the backbone's ``num_segments``).
        is_shift / temporal_pool: MMAction2's switches; temporal pooling is not implemented.
        Other arguments: see :class:`_VideoHead`.
    """

    def __init__(self, num_classes: int, in_channels: int, num_segments: int = 8, dropout_ratio: float = 0.8,
                 init_std: float = 0.001, is_shift: bool = True, temporal_pool: bool = False, **kwargs):
        if temporal_pool:
            raise ConfigError('TSMHead: temporal_pool is not implemented in fovea; remove it from the config.')
        super().__init__(num_classes, in_channels, dropout_ratio=dropout_ratio, init_std=init_std, **kwargs)
        self.num_segments, self.is_shift = num_segments, is_shift

    def forward(self, x, num_segs: int) -> torch.Tensor:
        x = self._pool(x)
        if x.shape[0] % self.num_segments:
            raise ValueError(f'TSMHead: {x.shape[0]} frames are not a multiple of num_segments='
                             f'{self.num_segments}; sample num_clips={self.num_segments} segments per clip.')
        if self.dropout is not None:
            x = self.dropout(x)
        cls_score = self.fc_cls(x)
        return self.consensus(cls_score.view(-1, self.num_segments, cls_score.shape[-1])).squeeze(1)
