"""The per-module parameter / MAC table printed by ``fovea flops``."""
from __future__ import annotations

from typing import Sequence

import torch

from fovea.tools.complexity import get_model_complexity
from fovea.utils.errors import ConfigError

__all__ = ['build_for_counting', 'complexity_table']


def build_for_counting(model: str, cfg_options: Sequence[str] = ()) -> tuple[torch.nn.Module, tuple[int, int, int]]:
    """Build a model by index name, config file or shipped config name on the meta device (no memory, no
    initialisation). Returns the model and its input shape (C, H, W): channels from
    ``model.backbone.in_channels`` (else the first convolution's), size from the index entry or else the
    config's test pipeline (its last Resize/CenterCrop/RandomResizedCrop), 224 when neither says."""
    from fovea.config import Config, list_configs, resolve_config_path
    from fovea.registry import MODELS, key_scope
    from fovea.utils.errors import did_you_mean
    from fovea.zoo import find_entry, model_index
    size = None
    if model in model_index():
        entry = find_entry(model)
        path, size = entry['config'], entry.get('input_size')
    else:
        try:
            path = resolve_config_path(model)
        except ConfigError:
            raise ConfigError(f'{model!r} is neither a model name (`fovea list-models`) nor a config file or shipped '
                              f'config name (`fovea list-configs`).'
                              f'{did_you_mean(model, [*model_index(), *list_configs()])}') from None
    cfg = Config.fromfile(path, list(cfg_options) or None)
    if 'model' not in cfg:
        raise ConfigError(f'{path} has no `model` section to count.')
    with torch.device('meta'), key_scope('model'):
        net = MODELS.build(cfg.model_cfg())
    h, w = (size, size) if isinstance(size, int) else (tuple(size) if size else _pipeline_size(cfg) or (224, 224))
    return net, (_in_channels(cfg, net), int(h), int(w))


def _in_channels(cfg, net: torch.nn.Module) -> int:
    backbone = (cfg.get('model') or {}).get('backbone') or {}
    if isinstance(backbone.get('in_channels'), int):
        return backbone['in_channels']
    conv = next((m for m in net.modules() if isinstance(m, torch.nn.Conv2d)), None)
    return conv.in_channels if conv is not None else 3


def _pipeline_size(cfg) -> tuple[int, int] | None:
    """(H, W) the config's test (or val) pipeline produces, when its last sizing transform fixes both."""
    pipeline = cfg.get('test_pipeline')
    for key in ('test_dataloader', 'val_dataloader'):
        ds = (cfg.get(key) or {}).get('dataset') or {}
        pipeline = pipeline or ds.get('pipeline')
    hw = None
    for t in pipeline or []:
        kind = str(t.get('type', '')).split('.')[-1] if isinstance(t, dict) else ''
        value = t.get('crop_size') if 'Crop' in kind else t.get('scale') if kind in ('Resize', 'RandomResizedCrop') \
            else None
        if kind == 'RandomResizedCrop':
            value = t.get('scale', t.get('size'))
        if isinstance(value, int):
            hw = (value, value)
        elif isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
            hw = (value[1], value[0])  # MMPretrain's sizes are (w, h)
        elif kind in ('ResizeEdge', 'Resize'):
            hw = None  # one edge only: the next crop decides
    return hw


def complexity_table(model: str, shape: Sequence[int] | None = None, in_channels: int | None = None, depth: int = 2,
                     cfg_options: Sequence[str] = ()) -> str:
    """Text table of parameters and MACs per module (down to ``depth`` levels) and in total. ``shape`` (H or
    H W) and ``in_channels`` override the input shape taken from the model (see :func:`build_for_counting`)."""
    net, (c, h, w) = build_for_counting(model, cfg_options)
    if shape:
        if len(shape) not in (1, 2):
            raise ConfigError(f'--shape takes H or H W, got {list(shape)}')
        h, w = (shape[0], shape[0]) if len(shape) == 1 else shape
    in_channels = in_channels or c
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
