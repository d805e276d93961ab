"""Post-training int8 quantization of a classifier for CPU inference, with its cost in accuracy and gain in speed.

Two modes (PyTorch's ``torch.ao.quantization``):

* ``dynamic``: weights of ``nn.Linear`` (and LSTM/GRU) layers stored as int8, activations quantized
  on the fly. No calibration; helps models dominated by fully connected layers (transformers, MLP heads).
* ``static``: FX graph mode. Observers are inserted, calibration images run through the model to fix
  activation ranges, then convolutions, linear layers and their activations run in int8 (the
  ``x86``/``fbgemm`` or ``qnnpack`` kernels). This is the mode for CNNs.

:func:`evaluate_quantization` measures top-1 accuracy of the float and the int8 model on the
same validation batches and their CPU latency per batch, measured in the same process.
"""
from __future__ import annotations

import copy
import time
import warnings
from typing import Iterable, Sequence

import torch
from torch import nn

__all__ = ['quantize_model', 'evaluate_quantization', 'preprocessed_batches', 'TensorForward']


class TensorForward(nn.Module):
    """``forward(x) = model(x, mode='tensor')`` on already normalised float input (what FX traces)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x, mode='tensor')
        return out[-1] if isinstance(out, (tuple, list)) else out


def preprocessed_batches(model: nn.Module, loader: Iterable, limit: int | None = None) -> list[tuple]:
    """``(normalised float inputs, labels or None)`` for the batches of a dataloader (up to ``limit`` images)."""
    out, n = [], 0
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        x = data['inputs'].float().contiguous()
        samples = data.get('data_samples')
        y = torch.cat([s.gt_label for s in samples]) if samples and 'gt_label' in samples[0] else None
        out.append((x, y))
        n += x.shape[0]
        if limit is not None and n >= limit:
            break
    return out


@torch.no_grad()
def quantize_model(model: nn.Module, mode: str = 'static', calib_inputs: Sequence[torch.Tensor] = (),
                   backend: str = 'x86') -> nn.Module:
    """An int8 copy of ``model`` (its tensor-mode forward) for CPU.

    Args:
        mode: 'dynamic' or 'static'.
        calib_inputs: normalised float batches for static calibration (a few hundred images suffice).
        backend: the quantized kernel set, 'x86' (default), 'fbgemm', 'onednn' or 'qnnpack' (ARM).
    """
    from torch.ao.quantization import quantize_dynamic
    if mode not in ('dynamic', 'static'):
        raise ValueError(f"quantization mode must be 'dynamic' or 'static', got {mode!r}")
    if backend not in torch.backends.quantized.supported_engines:
        raise ValueError(f'quantized backend {backend!r} is not available here; this PyTorch supports '
                         f'{torch.backends.quantized.supported_engines}')
    torch.backends.quantized.engine = backend
    float_model = TensorForward(copy.deepcopy(model).cpu().eval()).eval()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch.ao.quantization announces its move to torchao
        if mode == 'dynamic':
            return quantize_dynamic(float_model, {nn.Linear, nn.LSTM, nn.GRU}, dtype=torch.qint8)
        if not calib_inputs:
            raise ValueError('static quantization needs calibration images (calib_inputs)')
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
        example = (calib_inputs[0][:1],)
        qmap = get_default_qconfig_mapping(backend)
        # global pooling of a quantized channels_last map to rank 2 fails in PyTorch's int8 kernels;
        # the neck (pooling) runs in float, which costs nothing measurable
        qmap.set_module_name('model.neck', None)
        try:
            prepared = prepare_fx(float_model, qmap, example)
        except Exception as exc:  # torch.fx.proxy.TraceError and friends: data-dependent Python control flow
            from fovea.utils.errors import ConfigError
            raise ConfigError(f'static quantization traces the model with torch.fx, and '
                              f'{type(model).__name__} with backbone {type(getattr(model, "backbone", model)).__name__} '
                              f'cannot be traced ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}). '
                              f'Use --mode dynamic, or export to ONNX and quantize there.') from exc
        for x in calib_inputs:
            prepared(x)
        return convert_fx(prepared)


def _latency(fn: nn.Module, batches: Sequence[torch.Tensor], repeats: int) -> float:
    """Median seconds per batch over ``repeats`` passes through ``batches`` (after one warm-up pass)."""
    for x in batches[:2]:
        fn(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for x in batches:
            fn(x)
        times.append((time.perf_counter() - t0) / len(batches))
    times.sort()
    return times[len(times) // 2]


@torch.no_grad()
def evaluate_quantization(model: nn.Module, qmodel: nn.Module, val_batches: Sequence[tuple],
                          repeats: int = 3) -> dict:
    """Top-1 accuracy (%) of the float and int8 models on the same batches, agreement of their
    predictions, and median CPU seconds per batch of each (speed-up = float / int8)."""
    fmodel = TensorForward(model.cpu().eval()).eval()
    correct_f = correct_q = agree = n = 0
    for x, y in val_batches:
        pf, pq = fmodel(x).argmax(1), qmodel(x).argmax(1)
        agree += int((pf == pq).sum())
        n += x.shape[0]
        if y is not None:
            correct_f += int((pf == y).sum())
            correct_q += int((pq == y).sum())
    xs = [x for x, _ in val_batches]
    t_f, t_q = _latency(fmodel, xs, repeats), _latency(qmodel, xs, repeats)
    has_labels = all(y is not None for _, y in val_batches)
    acc_f = 100.0 * correct_f / n if has_labels else None
    acc_q = 100.0 * correct_q / n if has_labels else None
    return dict(num_images=n, float_top1=acc_f, int8_top1=acc_q,
                accuracy_drop=(acc_f - acc_q) if has_labels else None,
                prediction_agreement=100.0 * agree / n, float_s_per_batch=t_f, int8_s_per_batch=t_q,
                speedup=t_f / t_q if t_q > 0 else float('nan'), threads=torch.get_num_threads(),
                batch_size=xs[0].shape[0])
