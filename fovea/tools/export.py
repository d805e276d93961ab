"""Export a model to ONNX or TorchScript and check the exported file against PyTorch.

The exported graph is the model's ``tensor`` mode (class logits for classifiers,
features for headless models). With ``with_preprocess=True`` it also contains the
data preprocessor: it takes uint8 (B, C, H, W) RGB images as they come from a
decoder and does the float conversion, channel order and mean/std normalisation
itself, so a deployment needs no other code than resizing.

After writing, :func:`export_model` runs the file (onnxruntime for ONNX, the
TorchScript interpreter otherwise) on the same input as PyTorch and reports the
largest absolute difference; :class:`ExportMismatchError` is raised when it is
above the tolerance.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from fovea.utils.errors import FoveaError, require

__all__ = ['ExportWrapper', 'export_model', 'input_size_from_cfg', 'ExportMismatchError', 'run_onnx']


class ExportMismatchError(FoveaError):
    """The exported model's outputs differ from PyTorch's by more than the tolerance."""


class ExportWrapper(nn.Module):
    """``forward(images) -> logits`` for export: the model's tensor mode, optionally with preprocessing."""

    def __init__(self, model: nn.Module, with_preprocess: bool = False):
        super().__init__()
        self.model = model
        self.with_preprocess = with_preprocess
        pre = getattr(model, 'data_preprocessor', None)
        mean, std = getattr(pre, 'mean', None), getattr(pre, 'std', None)
        self.normalize = with_preprocess and isinstance(mean, torch.Tensor)
        if self.normalize:
            self.register_buffer('mean', mean.detach().clone().view(1, -1, 1, 1), persistent=False)
            self.register_buffer('std', std.detach().clone().view(1, -1, 1, 1), persistent=False)
        self.flip_to_bgr = with_preprocess and pre is not None and not getattr(pre, 'to_rgb', True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        if self.with_preprocess:
            x = x.float()
            if self.flip_to_bgr and x.shape[1] == 3:
                x = x.flip(1)
            if self.normalize:
                x = (x - self.mean) / self.std
        from fovea.models.base import BaseModel
        out = self.model(x, mode='tensor') if isinstance(self.model, BaseModel) else self.model(x)
        if isinstance(out, (tuple, list)):
            out = out[-1]
        return out


def input_size_from_cfg(cfg, default: int = 224) -> tuple[int, int]:
    """The (H, W) the test pipeline produces: the last crop / resize size in it."""
    size = None
    try:
        from fovea.apis.inference import _test_pipeline_cfg
        pipeline = _test_pipeline_cfg(cfg)
    except Exception:  # noqa: BLE001 - a config without a pipeline falls back to the default
        pipeline = []
    for t in pipeline:
        typ = str(t.get('type', '')).split('.')[-1]
        if typ in ('CenterCrop', 'RandomResizedCrop', 'RandomCrop') and t.get('crop_size') is not None:
            size = t['crop_size']
        elif typ == 'RandomResizedCrop' and t.get('scale') is not None:
            size = t['scale']
        elif typ == 'Resize' and t.get('scale') is not None:
            size = t['scale']
    if size is None:
        return default, default
    if isinstance(size, int):
        return size, size
    return int(size[1]), int(size[0])  # MMCV sizes are (w, h)


def model_in_channels(model: nn.Module) -> int:
    mean = getattr(getattr(model, 'data_preprocessor', None), 'mean', None)
    return mean.numel() if isinstance(mean, torch.Tensor) and mean.numel() in (1, 3) else 3


def run_onnx(path: str | os.PathLike, inputs: np.ndarray) -> np.ndarray:
    """Run an ONNX file with onnxruntime on CPU; returns the first output."""
    ort = require('onnxruntime', 'tools', 'checking exported ONNX models')
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: inputs})[0]


def _example_input(shape: Sequence[int], with_preprocess: bool, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if with_preprocess:
        return torch.randint(0, 256, tuple(shape), generator=g, dtype=torch.uint8)
    return torch.randn(tuple(shape), generator=g)


@torch.no_grad()
def export_model(model: nn.Module, out: str | os.PathLike, fmt: str = 'onnx',
                 input_shape: Sequence[int] = (1, 3, 224, 224), dynamic_batch: bool = False,
                 opset: int | None = None, with_preprocess: bool = False, atol: float = 1e-4,
                 rtol: float = 1e-3) -> dict:
    """Export ``model`` to ``out`` and check it; returns ``dict(path, max_abs_diff, ...)``.

    Args:
        fmt: 'onnx' or 'torchscript'.
        input_shape: (B, C, H, W) of the example input (B >= 2 is used when ``dynamic_batch``).
        dynamic_batch: let the batch size vary at run time (checked with a different batch size).
        opset: ONNX opset version (default: the exporter's).
        with_preprocess: include normalisation; the exported model then takes uint8 RGB images.
        atol / rtol: the check fails when ``|exported - torch| > atol + rtol * |torch|`` anywhere.
    """
    if fmt not in ('onnx', 'torchscript'):
        raise ValueError(f"format must be 'onnx' or 'torchscript', got {fmt!r}")
    model = model.eval().cpu()
    wrapper = ExportWrapper(model, with_preprocess).eval()
    shape = list(input_shape)
    if dynamic_batch and shape[0] < 2:
        shape[0] = 2
    x = _example_input(shape, with_preprocess)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    checks = [x]
    if dynamic_batch:
        checks.append(_example_input([shape[0] + 3] + shape[1:], with_preprocess, seed=1))
    # reference outputs first: exporting traces the model, and a model that caches tensors during
    # forward (e.g. attention masks) must not hand traced values to the reference run
    refs = [wrapper(t).float().numpy() for t in checks]
    if fmt == 'onnx':
        require('onnx', 'tools', 'ONNX export')
        require('onnxscript', 'tools', 'ONNX export')
        kwargs = {}
        if dynamic_batch:
            kwargs['dynamic_shapes'] = {'images': {0: torch.export.Dim('batch', min=1, max=4096)}}
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(wrapper, (x,), str(out), input_names=['images'], output_names=['output'],
                              opset_version=opset, dynamo=True, external_data=False, verbose=False,
                              **kwargs)
        import onnx
        onnx.checker.check_model(str(out))
        opset_used = next((o.version for o in onnx.load(str(out)).opset_import if o.domain in ('', 'ai.onnx')), None)
        run = lambda t: run_onnx(out, t.numpy())  # noqa: E731
    else:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            traced = torch.jit.trace(wrapper, (x,), check_trace=False)
            traced.save(str(out))
            loaded = torch.jit.load(str(out))
        opset_used = None
        run = lambda t: loaded(t).numpy()  # noqa: E731
    max_diff, ok = 0.0, True
    for t, ref in zip(checks, refs):
        got = np.asarray(run(t), dtype=np.float32)
        if got.shape != ref.shape:
            raise ExportMismatchError(f'exported {fmt} output has shape {got.shape}, PyTorch gives {ref.shape}')
        diff = np.abs(got - ref)
        max_diff = max(max_diff, float(diff.max()))
        ok &= bool((diff <= atol + rtol * np.abs(ref)).all())
    report = dict(path=str(out), format=fmt, input_shape=shape, input_dtype=str(x.dtype).replace('torch.', ''),
                  output_shape=list(ref.shape), max_abs_diff=max_diff,
                  max_abs_output=float(max(np.abs(r).max() for r in refs)), atol=atol, rtol=rtol, opset=opset_used,
                  dynamic_batch=dynamic_batch, with_preprocess=with_preprocess, size_bytes=out.stat().st_size,
                  checked_batches=[int(t.shape[0]) for t in checks])
    if not ok:
        raise ExportMismatchError(f'{fmt} export {out} differs from PyTorch by up to {max_diff:.3g} '
                                  f'(tolerance atol={atol}, rtol={rtol}); the file was kept for inspection')
    return report
