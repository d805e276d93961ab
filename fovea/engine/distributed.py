"""Scaling switches: synchronised BatchNorm, FSDP sharding with sharded/consolidated checkpoints,
and gradient (activation) checkpointing.

* ``env_cfg.sync_bn=True`` (or ``model_wrapper_cfg.sync_bn``): BatchNorm statistics are computed
  over the global batch. On CUDA this is ``torch.nn.SyncBatchNorm``; torch's kernel refuses CPU
  tensors, so on CPU (gloo) fovea uses :class:`NaiveSyncBatchNorm`, which all-reduces the per-channel
  sums with autograd-aware collectives (exact, slower; meant for CPU clusters and tests).
* Models configured with ``norm_cfg=dict(type='SyncBN')`` (MMPretrain's necks and SSL backbones) are fitted
  to the run by :func:`fit_sync_batchnorm`: in a single process their SyncBatchNorm layers become plain
  BatchNorm (one warning), on CPU processes the all-reduce BatchNorm below (torch's refuses CPU tensors).
* :func:`apply_fsdp` shards a model with FSDP2 (``torch.distributed.fsdp.fully_shard``): each
  transformer/residual block, then the root. :func:`save_sharded` / :func:`load_sharded` write and read
  a ``torch.distributed.checkpoint`` directory (every rank writes its shard), and
  :func:`consolidated_state_dict` gathers a plain full state dict (for export/inference).
* :func:`enable_gradient_checkpointing` recomputes the activations of every block in backward
  (``env_cfg.grad_checkpointing=True``): less memory for transformer backbones, ~30% more compute.
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.distributed as dist
from torch import nn

from fovea.utils.errors import ConfigError

__all__ = ['BatchNormNd', 'NaiveSyncBatchNorm', 'convert_sync_batchnorm', 'fit_sync_batchnorm', 'apply_fsdp', 'save_sharded', 'load_sharded',
           'consolidated_state_dict', 'enable_gradient_checkpointing', 'block_modules', 'is_fsdp',
           'fsdp_checkpoint_state', 'fsdp_restore']

logger = logging.getLogger('fovea')


class BatchNormNd(nn.BatchNorm2d):
    """Plain BatchNorm over (N, C, ...) inputs of any rank, as ``nn.SyncBatchNorm`` accepts (the
    state-dict keys of BatchNorm)."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f'{type(self).__name__} expects (N, C, ...) input, got {x.dim()}-D')


class NaiveSyncBatchNorm(BatchNormNd):
    """BatchNorm whose training statistics span all processes (any device, any backend).

    Mean and variance come from all-reduced per-channel ``sum(x)``, ``sum(x^2)`` and counts; the
    all-reduce is differentiable (``torch.distributed.nn.functional.all_reduce``), so gradients
    match BatchNorm over the concatenated global batch. Works for (N, C, ...) inputs.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce
        dims = [0] + list(range(2, x.ndim))
        xf = x.float()
        count = torch.tensor([float(x.numel() // x.shape[1])], device=x.device)
        stats = torch.cat([xf.sum(dims), (xf * xf).sum(dims), count])
        stats = all_reduce(stats)
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = stats[c:2 * c] / n - mean * mean
        if self.track_running_stats:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked + 1)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1).clamp(min=1), alpha=m)
                self.num_batches_tracked += 1
        shape = [1, c] + [1] * (x.ndim - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def _replace_batchnorm(module: nn.Module, cls: type, which: Callable[[nn.Module], bool]) -> nn.Module:
    """``module`` with every BatchNorm for which ``which`` holds replaced by a ``cls`` sharing its
    parameters and statistics (the same state-dict keys)."""
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and which(module):
        out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        if module.track_running_stats:
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, _replace_batchnorm(child, cls, which))
    return out


def convert_sync_batchnorm(module: nn.Module, device_type: str = 'cuda') -> nn.Module:
    """Replace every BatchNorm{1,2,3}d with a synchronised one (torch's on CUDA, naive elsewhere)."""
    if device_type == 'cuda':
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _replace_batchnorm(module, NaiveSyncBatchNorm, lambda m: not isinstance(m, NaiveSyncBatchNorm))


def fit_sync_batchnorm(model: nn.Module, world_size: int, device_type: str) -> nn.Module:
    """The model's ``nn.SyncBatchNorm`` layers (``norm_cfg=dict(type='SyncBN')``) as this run can run them:
    plain BatchNorm in a single process, with one warning naming them (mmselfsup#324/#575: SyncBN necks
    crashed there), and the all-reduce :class:`NaiveSyncBatchNorm` on CPU processes, where torch's
    SyncBatchNorm refuses CPU tensors. Kept as they are on several CUDA processes."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.SyncBatchNorm)]
    if not names or (world_size > 1 and device_type == 'cuda'):
        return model
    if world_size > 1:
        logger.info(f'{len(names)} SyncBN layers synchronise through all-reduce BatchNorm ({device_type} processes)')
        return _replace_batchnorm(model, NaiveSyncBatchNorm, lambda m: isinstance(m, nn.SyncBatchNorm))
    logger.warning(f'{len(names)} SyncBN layers ({", ".join(names[:4])}{" ..." if len(names) > 4 else ""}) run as '
                   f'plain BatchNorm: this run is a single process, there is nothing to synchronise with.')
    return _replace_batchnorm(model, BatchNormNd, lambda m: isinstance(m, nn.SyncBatchNorm))


# ---------------------------------------------------------------------------- blocks
def block_modules(model: nn.Module, names: Iterable[str] | None = None) -> list[nn.Module]:
    """The repeated blocks of a model: members of ``backbone.layers``/``stages``/``blocks`` (nested
    ModuleLists/Sequentials are flattened one level, e.g. ResNet stages -> residual blocks), or the
    modules whose class name is in ``names``."""
    if names:
        wanted = set(names)
        return [m for m in model.modules() if type(m).__name__ in wanted]
    root = getattr(model, 'backbone', model)
    if isinstance(getattr(root, 'res_layers', None), (list, tuple)):  # ResNet family: layer1..layer4
        return [b for name in root.res_layers for b in getattr(root, name)]
    for attr in ('layers', 'blocks', 'stages'):
        seq = getattr(root, attr, None)
        if isinstance(seq, (nn.ModuleList, nn.Sequential)) and len(seq):
            out = []
            for m in seq:
                inner = getattr(m, 'blocks', None)
                out.extend(list(inner) if isinstance(inner, (nn.ModuleList, nn.Sequential)) else
                           list(m) if isinstance(m, (nn.ModuleList, nn.Sequential)) else [m])
            return out
    return []


def enable_gradient_checkpointing(model: nn.Module, names: Iterable[str] | None = None) -> int:
    """Recompute each block's activations in backward (training only). Returns the number of blocks."""
    from torch.utils.checkpoint import checkpoint
    root = getattr(model, 'backbone', model)
    if not names and hasattr(root, 'with_cp'):  # MMPretrain backbones implement it themselves
        mods = [m for m in root.modules() if hasattr(m, 'with_cp')]
        for m in mods:
            m.with_cp = True
        return len(mods)
    blocks = block_modules(model, names)
    for block in blocks:
        if getattr(block, '_fovea_checkpointed', False):
            continue
        original = block.forward

        @functools.wraps(original)
        def forward(*args: Any, _f=original, _m=block, **kwargs: Any):
            if _m.training and torch.is_grad_enabled():
                return checkpoint(_f, *args, use_reentrant=False, **kwargs)
            return _f(*args, **kwargs)
        block.forward = forward
        block._fovea_checkpointed = True
    if not blocks:
        raise ConfigError(f'grad_checkpointing: found no blocks in {type(model).__name__} (looked for '
                          f'backbone.layers / blocks / stages); name the block classes with '
                          f'env_cfg.grad_checkpointing=dict(modules=["TransformerEncoderLayer"]).')
    return len(blocks)


# ---------------------------------------------------------------------------- FSDP
def apply_fsdp(model: nn.Module, cfg: dict | bool | None = None) -> nn.Module:
    """Shard ``model`` in place with FSDP2: every block (see :func:`block_modules`), then the root.

    ``cfg``: ``modules`` (block class names), ``reshard_after_forward`` (default True),
    ``param_dtype``/``reduce_dtype`` ('bf16', 'fp16', 'fp32') for a mixed-precision policy.
    Needs an initialised process group. Build the optimizer after this call.
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise ConfigError('FSDP needs a distributed launch (torchrun --nproc_per_node N ...); the process group '
                          'is not initialised.')
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
    cfg = dict(cfg) if isinstance(cfg, dict) else {}
    dtypes = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': torch.float32, None: None}
    kwargs: dict[str, Any] = {'reshard_after_forward': cfg.get('reshard_after_forward', True)}
    if cfg.get('param_dtype') or cfg.get('reduce_dtype'):
        kwargs['mp_policy'] = MixedPrecisionPolicy(param_dtype=dtypes[cfg.get('param_dtype')],
                                                   reduce_dtype=dtypes[cfg.get('reduce_dtype')])
    with torch.no_grad():
        for p in model.parameters():  # FSDP shards contiguous tensors only (channels_last weights are not)
            if not p.is_contiguous():
                p.data = p.data.contiguous()
    blocks = block_modules(model, cfg.get('modules'))
    for block in blocks:
        fully_shard(block, **kwargs)
    fully_shard(model, **kwargs)
    model._fovea_fsdp = True
    logger.info(f'FSDP: sharded {len(blocks)} blocks and the root over {dist.get_world_size()} processes')
    return model


def save_sharded(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                 extra: dict | None = None) -> Path:
    """Every rank writes its shard of the model (and optimizer) state to the directory ``path``."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict
    if optimizer is not None:
        msd, osd = get_state_dict(model, optimizer)
        state = {'model': msd, 'optimizer': osd}
    else:
        state = {'model': model.state_dict()}
    if extra:
        state['extra'] = extra
    dcp.save(state, checkpoint_id=str(path))
    return Path(path)


def load_sharded(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Read a :func:`save_sharded` directory into an identically sharded model (and optimizer)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
    if not Path(path).is_dir():
        from fovea.utils.errors import CheckpointError
        raise CheckpointError(f'{path} is not a sharded checkpoint directory (written by save_sharded).')
    if optimizer is not None:
        msd, osd = get_state_dict(model, optimizer)
        state = {'model': msd, 'optimizer': osd}
    else:
        state = {'model': model.state_dict()}
    dcp.load(state, checkpoint_id=str(path))
    if optimizer is not None:
        set_state_dict(model, optimizer, model_state_dict=state['model'], optim_state_dict=state['optimizer'])
    else:
        model.load_state_dict(state['model'])
    return state


def consolidated_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The full (unsharded) model state dict on CPU, on rank 0 (empty on other ranks). Collective:
    every rank must call it. Save it with ``torch.save`` for inference or fine-tuning without FSDP."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


# ---------------------------------------------------------------------------- Runner integration
def is_fsdp(model: nn.Module) -> bool:
    """Whether :func:`apply_fsdp` sharded ``model``."""
    return bool(getattr(model, '_fovea_fsdp', False))


def fsdp_checkpoint_state(model: nn.Module, optim_wrapper, path: str | Path) -> tuple[dict, dict | None]:
    """For ``Runner.save_checkpoint`` (collective): the consolidated model state dict (rank 0; empty
    elsewhere) for the checkpoint file, and the optimizer wrapper state whose optimizer part is
    written as shards to ``<path stem>.shards/`` beside the file."""
    full = consolidated_state_dict(model)
    if optim_wrapper is None:
        return full, None
    shard_dir = Path(path).with_name(Path(path).stem + '.shards')
    save_sharded(shard_dir, model, optim_wrapper.optimizer)
    state = optim_wrapper.state_dict()
    state['optimizer'] = {'sharded_dir': shard_dir.name}
    return full, state


def fsdp_restore(model: nn.Module, optim_wrapper, checkpoint: dict, path: str | Path) -> None:
    """For ``Runner.resume``: load the full weights into the sharded model and, when the checkpoint
    has them, the optimizer shards written by :func:`fsdp_checkpoint_state`."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
    set_model_state_dict(model, checkpoint['state_dict'], options=StateDictOptions(full_state_dict=True))
    opt_state = checkpoint.get('optimizer')
    if optim_wrapper is not None and opt_state and 'sharded_dir' in opt_state.get('optimizer', {}):
        load_sharded(Path(path).parent / opt_state['optimizer']['sharded_dir'], model, optim_wrapper.optimizer)
        optim_wrapper._inner_count = opt_state.get('inner_count', 0)
