"""The per-module parameter / MAC table printed by ``fovea flops``."""
from __future__ import annotations

import os
from typing import Sequence

import torch

from fovea.tools.complexity import get_model_complexity
from fovea.utils.errors import ConfigError

__all__ = ['build_for_counting', 'complexity_table']


def build_for_counting(model: str, cfg_options: Sequence[str] = ()) -> tuple[torch.nn.Module, int | None]:
    """Build a model by index name or config file on the meta device (no memory, no initialisation).

    Returns the model and the index entry's input size (None for config files).
    """
    from fovea.config import Config
    from fovea.registry import MODELS, key_scope
    from fovea.zoo import find_entry, model_index
    if model in model_index():
        entry = find_entry(model)
        path, size = entry['config'], entry.get('input_size')
    elif os.path.exists(model) or model.endswith(('.py', '.json', '.yaml')):
        path, size = model, None
    else:
        find_entry(model)  # raises a ConfigError naming close matches
        raise ConfigError(f'Unknown model {model!r}')  # pragma: no cover
    cfg = Config.fromfile(path, list(cfg_options) or None)
    if 'model' not in cfg:
        raise ConfigError(f'{path} has no `model` section to count.')
    with torch.device('meta'), key_scope('model'):
        net = MODELS.build(cfg.model_cfg())
    return net, size


def complexity_table(model: str, shape: Sequence[int] | None = None, in_channels: int = 3, depth: int = 2,
                     cfg_options: Sequence[str] = ()) -> str:
    """Text table of parameters and MACs per module (down to ``depth`` levels) and in total."""
    net, size = build_for_counting(model, cfg_options)
    if shape:
        if len(shape) not in (1, 2):
            raise ConfigError(f'--shape takes H or H W, got {list(shape)}')
        h, w = (shape[0], shape[0]) if len(shape) == 1 else shape
    else:
        h = w = size or 224
    result = get_model_complexity(net, (in_channels, h, w))
    total_params, total_macs = result['params'], result['macs']
    rows = []
    for name, (params, macs) in result['per_module'].items():
        if name == '(total)' or name.count('.') + 1 > depth or (params == 0 and macs == 0):
            continue
        rows.append((name, f'{params / 1e6:.3f}', f'{macs / 1e9:.4f}',
                     f'{100 * macs / total_macs:.1f}' if total_macs else '-'))
    header = ('module', 'params (M)', 'GMACs', '% MACs')
    rows.append(('total', f'{total_params / 1e6:.3f}', f'{total_macs / 1e9:.4f}', '100.0' if total_macs else '-'))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]

    def fmt(row: tuple[str, ...]) -> str:
        return '  '.join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    lines = [f'{model} at input {in_channels}x{h}x{w}', fmt(header), '-' * len(fmt(header))]
    lines += [fmt(r) for r in rows[:-1]] + ['-' * len(fmt(header)), fmt(rows[-1]), '',
              f'Params: {total_params / 1e6:.2f} M   MACs: {total_macs / 1e9:.3f} G',
              'MACs are multiply-accumulates: torch.utils.flop_counter.FlopCounterMode FLOPs divided by 2 '
              '(matmuls and convolutions only; activations, norms and pooling are not counted).']
    return '\n'.join(lines)
