"""Feature-cached gradient accumulation (open_clip's ``--accum-freq``; the gradient cache of Gao et al.,
"Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup", 2021).

Plain accumulation (``optim_wrapper.accumulative_counts = K``) averages K micro-batch losses, so a
contrastive loss only ever contrasts a micro-batch with itself. With a :class:`FeatureCache` the model's
loss sees the whole accumulated batch while activations are kept for one micro-batch at a time:

1. each of the K micro-steps computes the loss features of its micro-batch without gradient and caches them
   (with the micro-batch and the random state before the forward);
2. on the K-th, each micro-batch is run again with gradient (the random state replayed, so dropout and
   stochastic depth draw what they drew the first time) and its live features replace its cached ones
   in the whole batch's loss, which is backpropagated through that micro-batch only.

The K backward passes together give the gradient of the loss of the whole accumulated batch, exactly.
``BaseModel.train_step`` drives it (see docs/architecture.md, "Training step"); a model opts in by owning a
``feature_cache`` and by writing its loss as ``loss_features`` (per-sample tensors, the only part that needs
the micro-batch) followed by a loss over ``feature_cache.whole_batch(features)``.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import torch

__all__ = ['FeatureCache']


def _rng_state(device: torch.device) -> tuple:
    cuda = torch.cuda.get_rng_state(device) if device.type == 'cuda' else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple, device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


class FeatureCache:
    """The micro-batches of one accumulation cycle and their features computed without gradient."""

    def __init__(self) -> None:
        self.batches: list[dict] = []
        self.features: list[dict[str, torch.Tensor]] = []
        self._rng: list[tuple] = []
        self.live: int | None = None  # the micro-batch being recomputed with gradient

    def __len__(self) -> int:
        return len(self.batches)

    def add(self, batch: dict, features: Callable[[], dict[str, torch.Tensor]], device: torch.device) -> None:
        """Cache a preprocessed micro-batch and ``features()`` of it, computed without gradient."""
        self._rng.append(_rng_state(device))
        with torch.no_grad():
            feats = features()
        if not isinstance(feats, dict) or not all(isinstance(v, torch.Tensor) for v in feats.values()):
            raise TypeError(f'loss_features must return a dict of tensors (one row per sample), got {type(feats).__name__}')
        self.batches.append(batch)
        self.features.append({k: v.detach() for k, v in feats.items()})

    @contextlib.contextmanager
    def recompute(self, index: int, device: torch.device) -> Iterator[dict]:
        """Yield micro-batch ``index`` with the random state of its first forward restored; inside,
        :meth:`whole_batch` substitutes that micro-batch's live features."""
        _set_rng_state(self._rng[index], device)
        self.live = index
        try:
            yield self.batches[index]
        finally:
            self.live = None

    def whole_batch(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The features of every cached micro-batch, in order, with the live micro-batch's ``features`` (with
        gradient) in its place; ``features`` unchanged outside a recompute (no accumulation in progress)."""
        if self.live is None:
            return features
        cached = self.features[self.live]
        if set(cached) != set(features) or any(cached[k].shape != features[k].shape for k in features):
            raise RuntimeError('loss_features gave other keys or shapes when recomputed with gradient than without '
                               f'({ {k: tuple(v.shape) for k, v in features.items()} } vs '
                               f'{ {k: tuple(v.shape) for k, v in cached.items()} }); it must be deterministic '
                               'given the batch and the random state.')
        parts = self.features[:self.live] + [features] + self.features[self.live + 1:]
        return {k: torch.cat([p[k].to(features[k].dtype) for p in parts]) for k in features}

    def shared(self, value: Any) -> Any:
        """A loss input that is not a per-sample feature (a temperature such as CLIP's ``logit_scale``):
        differentiable in the last recompute only, so that the K backward passes count its gradient once."""
        if self.live is None or self.live == len(self.batches) - 1 or not isinstance(value, torch.Tensor):
            return value
        return value.detach()

    def clear(self) -> None:
        self.batches.clear()
        self.features.clear()
        self._rng.clear()
        self.live = None
