"""Reading weights files safely, and finding the weights and facts inside any toolbox's checkpoint.

* :func:`read_weights` opens ``.pth/.pt/.ckpt/.bin`` through ``torch.load`` with
  :mod:`fovea.utils.safe_pickle` as the pickle module, and ``.safetensors`` with safetensors:
  nothing in a file can run code. fovea's own checkpoints hold only tensors and plain values;
  MMPretrain/mmengine and timm training checkpoints come out with inert placeholders where they
  pickled their own objects (``HistoryBuffer``, ``argparse.Namespace``).
* :func:`extract_state_dict` finds the model weights (or the EMA weights) in fovea, MMPretrain,
  timm and Lightning layouts; :func:`checkpoint_info` the layout, epoch, iteration and class names.
* :func:`resolve_checkpoint` turns the model-zoo names MMPretrain/mmengine configs use
  (``torchvision://resnet50``, ``open-mmlab://resnext50_32x4d``, ``mmcls://resnet50``) into URLs,
  from the tables in ``checkpoint_urls.json`` (mmengine's, copied as data) and torchvision's own
  weight enums.
"""
from __future__ import annotations

import functools
import io
import json
import logging
import os
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fovea.utils import safe_pickle
from fovea.utils.errors import CheckpointError, did_you_mean

__all__ = ['read_weights', 'extract_state_dict', 'checkpoint_info', 'CheckpointInfo', 'resolve_checkpoint',
           'selfsup_parts']

logger = logging.getLogger('fovea')

StateDict = dict[str, torch.Tensor]


def read_weights(path: str | os.PathLike, map_location: str | torch.device = 'cpu') -> dict:
    """Read a checkpoint file without running anything in it (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'Checkpoint {str(path)!r} does not exist. Check the path, or train a model first.')
    if path.stat().st_size == 0:
        raise CheckpointError(f'Checkpoint {path} is empty (0 bytes); it was probably cut off while being '
                              f'written or downloaded. Use an earlier checkpoint or download it again.')
    if path.suffix == '.safetensors':
        from fovea.utils.errors import require
        st = require('safetensors.torch', 'tools', 'reading .safetensors files')
        try:
            return st.load_file(str(path), device=str(map_location))
        except Exception as exc:
            raise CheckpointError(f'Checkpoint {path} is not a valid safetensors file: {exc}') from None
    if _is_torchscript(path):
        return _read_torchscript(path, map_location)
    with safe_pickle.recording() as seen:
        try:
            ckpt = _torch_load(path, map_location)
        except CheckpointError as exc:
            raise CheckpointError(f'Checkpoint {path}: {exc}') from None
        except Exception as exc:
            msg = str(exc).splitlines()[0] if str(exc) else 'truncated or corrupt'
            if seen:
                raise CheckpointError(
                    f'Checkpoint {path} holds objects of {", ".join(sorted(seen))} that fovea cannot rebuild '
                    f'without running their code ({type(exc).__name__}: {msg}). Save only the state dict '
                    f'(`torch.save(model.state_dict(), ...)`) where the file was made.') from None
            raise CheckpointError(f'Checkpoint {path} could not be read ({type(exc).__name__}: {msg}). The file '
                                  f'is probably truncated or not a PyTorch checkpoint; use an earlier '
                                  f'checkpoint.') from None
    if not isinstance(ckpt, dict):
        what = safe_pickle.placeholder_name(ckpt) or type(ckpt).__name__
        raise CheckpointError(f'Checkpoint {path} holds a pickled {what} object, not a dict of weights; save '
                              f'`model.state_dict()` instead of the model where the file was made.')
    if seen:
        logger.info('Read %s: inert placeholders stand in for %s (their packages were not imported, nothing '
                    'in the file was run).', path, ', '.join(sorted(seen)))
    return ckpt


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive (``torch.jit.save``: a zip with ``code/`` and ``constants.pkl``), such as
    OpenAI's released CLIP files, which ``torch.load`` would hand to ``torch.jit.load``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith('/constants.pkl') or '/code/' in n for n in zf.namelist()[:4096])


def _read_torchscript(path: Path, map_location: Any) -> dict:
    """The tensors of a TorchScript archive's ``data.pkl`` as a flat state dict (module attribute paths),
    unpickled with :mod:`fovea.utils.safe_pickle`: the archive's code is never loaded or run."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = next((n for n in names if n.endswith('/data.pkl') and n.count('/') == 1), None)
        if pkl is None:
            raise CheckpointError(f'Checkpoint {path} is a TorchScript archive without data.pkl; it cannot be read.')
        root = pkl.rsplit('/', 1)[0]

        class _Reader(safe_pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                if module == 'torch' and name.endswith('Storage'):
                    return torch.serialization.StorageType(name)
                return super().find_class(module, name)

            def persistent_load(self, pid: Any) -> Any:
                _, storage_type, key, _location, _numel = pid
                raw = bytearray(zf.read(f'{root}/data/{key}'))
                untyped = torch.frombuffer(raw, dtype=torch.uint8).untyped_storage() if raw else torch.UntypedStorage(0)
                return torch.storage.TypedStorage(wrap_storage=untyped, dtype=storage_type.dtype, _internal=True)

        with safe_pickle.recording():
            try:
                root_obj = _Reader(io.BytesIO(zf.read(pkl))).load()
            except CheckpointError:
                raise
            except Exception as exc:
                raise CheckpointError(f'Checkpoint {path} (a TorchScript archive) could not be read as data '
                                      f'({type(exc).__name__}: {exc}).') from None
    out: dict = OrderedDict()

    def walk(obj: Any, prefix: str, depth: int) -> None:
        state = getattr(obj, '__dict__', {}).get('state') if safe_pickle.placeholder_name(obj) else obj
        if not isinstance(state, dict) or depth > 64:
            return
        for k, v in state.items():
            if not isinstance(k, str) or k == 'training':
                continue
            if isinstance(v, torch.Tensor):
                out[prefix + k] = v.to(map_location)
            else:
                walk(v, f'{prefix}{k}.', depth + 1)
    walk(root_obj, '', 0)
    if not out:
        raise CheckpointError(f'Checkpoint {path} (a TorchScript archive) holds no tensors fovea can read.')
    logger.info('Read %s as data (a TorchScript archive: %d tensors; its code was not loaded).', path, len(out))
    return out


def _torch_load(path: Path, map_location: Any) -> Any:
    try:
        return torch.load(path, map_location=map_location, weights_only=False, pickle_module=safe_pickle)
    except RuntimeError as exc:
        if 'explicit pickle_module' not in str(exc):
            raise
        # TORCH_FORCE_WEIGHTS_ONLY_LOAD=1 forbids a pickle module: honour it with torch's own reader
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            raise CheckpointError(f'it holds Python objects that are not plain weights, and '
                                  f'TORCH_FORCE_WEIGHTS_ONLY_LOAD=1 makes fovea use torch\'s weights-only reader, '
                                  f'which refuses them; unset it to read the file with placeholders for them. '
                                  f'Detail: {str(err).splitlines()[0]}') from None


def _is_weights(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, torch.Tensor) for v in value.values())


_WEIGHT_KEYS = ('state_dict', 'model', 'model_state', 'module', 'state_dict_ema')


def extract_state_dict(ckpt: dict, ema: bool | None = None) -> StateDict:
    """Find the model weights inside a checkpoint dict (fovea, MMPretrain, timm, Lightning layouts).

    Args:
        ema: None: the checkpoint's main weights. True: the exponential moving average (timm's
            ``state_dict_ema``; for fovea and mmengine checkpoints with an ``ema_state_dict``, the
            ``state_dict``, which their EMA hooks fill with the averaged weights). False: the
            weights that were trained, never the average (mmengine's ``ema_state_dict`` keeps them
            under ``module.``).
    """
    sd = None
    if ema is True:
        if _is_weights(ckpt.get('state_dict_ema')):
            sd = ckpt['state_dict_ema']
        elif 'ema_state_dict' in ckpt and _is_weights(ckpt.get('state_dict')):
            sd = ckpt['state_dict']
        else:
            raise CheckpointError(f'The checkpoint has no EMA weights (no state_dict_ema or ema_state_dict; '
                                  f'top-level keys: {sorted(ckpt)[:10]}). Load its main weights instead.')
    elif ema is False and _is_weights(ckpt.get('ema_state_dict')):
        sd = {k[len('module.'):]: v for k, v in ckpt['ema_state_dict'].items() if k.startswith('module.')}
    if sd is None:
        sd = next((ckpt[k] for k in _WEIGHT_KEYS if _is_weights(ckpt.get(k))), None)
    if sd is None:
        sd = {k: v for k, v in ckpt.items() if isinstance(v, torch.Tensor)}
    if not sd:
        raise CheckpointError(f'No weights found in the checkpoint (top-level keys: {sorted(ckpt)[:10]}).')
    prefix = 'module.'
    if all(k.startswith(prefix) for k in sd):  # saved from DistributedDataParallel
        sd = {k[len(prefix):]: v for k, v in sd.items()}
    return OrderedDict(sd)


@dataclass
class CheckpointInfo:
    """What a checkpoint says about itself. ``layout``: 'fovea', 'mmengine' (MMPretrain training
    runs), 'timm' (timm's train.py) or 'weights' (a bare or published state dict). ``epoch`` /
    ``iter``: finished epochs / iterations, when recorded."""
    layout: str
    epoch: int | None = None
    iter: int | None = None
    classes: tuple[str, ...] | None = None
    has_ema: bool = False


def checkpoint_info(ckpt: dict) -> CheckpointInfo:
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
    if 'fovea_version' in meta:
        layout = 'fovea'
    elif 'message_hub' in ckpt or 'mmengine_version' in meta or 'mmengine' in meta:
        layout = 'mmengine'
    elif 'state_dict_ema' in ckpt or ('arch' in ckpt and 'epoch' in ckpt):
        layout = 'timm'
    else:
        layout = 'weights'
    info = CheckpointInfo(layout, has_ema='ema_state_dict' in ckpt or _is_weights(ckpt.get('state_dict_ema')))
    if layout == 'timm':
        epoch = _int(ckpt.get('epoch'))
        # timm records the index of the epoch it just finished (from version 2 on)
        info.epoch = epoch + 1 if epoch is not None and _int(ckpt.get('version')) else epoch
    else:
        info.epoch, info.iter = _int(meta.get('epoch')), _int(meta.get('iter'))
    dataset_meta = meta.get('dataset_meta')
    classes = dataset_meta.get('classes') if isinstance(dataset_meta, dict) else None
    if isinstance(classes, (list, tuple)) and all(isinstance(c, str) for c in classes):
        info.classes = tuple(classes)
    return info


#: top-level modules only self-supervised models have (MMPretrain's and fovea's names): momentum
#: encoders, key queues, teachers and target networks
_SELFSUP_MODULES = frozenset({'encoder_k', 'target_net', 'momentum_encoder', 'teacher', 'target_generator',
                              'queue', 'queue_ptr'})


def selfsup_parts(sd: StateDict) -> tuple[str, ...]:
    """The top-level parts that mark ``sd`` as a whole self-supervised model (MMPretrain 1.x or fovea):
    ``backbone.`` with a momentum encoder, queue, teacher or target (``encoder_k.module.0/1``,
    ``target_net``, ``momentum_encoder``, ...), or a neck and no classifier (no 2-D weight in ``head.``
    but a predictor's: SimCLR, Barlow Twins, SimSiam, MAE). Empty for classifiers and plain backbones."""
    top = {k.split('.', 1)[0] for k in sd}
    if 'backbone' not in top:
        return ()
    parts = top & _SELFSUP_MODULES
    classifier = any(k.startswith('head.') and not k.startswith('head.predictor.') and getattr(v, 'ndim', 0) == 2
                     for k, v in sd.items())
    if 'neck' in top and not classifier:
        parts |= {'neck'} | ({'head'} & top)
    return tuple(sorted(parts | {'backbone'})) if parts else ()


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


#: URL scheme -> table of checkpoint_urls.json; mmcls:// checkpoints are loaded by their backbone keys
_SCHEMES = {'torchvision://': 'torchvision', 'modelzoo://': 'torchvision', 'open-mmlab://': 'open-mmlab',
            'openmmlab://': 'open-mmlab', 'mmcls://': 'mmcls'}


@functools.lru_cache(maxsize=None)
def _url_table(table: str) -> dict[str, str | None]:
    with open(Path(__file__).with_name('checkpoint_urls.json'), encoding='utf-8') as f:
        urls = dict(json.load(f)[table])
    if table == 'torchvision':  # torchvision >= 0.13 names: 'resnet50.imagenet1k_v2', 'resnet50.default'
        try:
            import torchvision.models as tvm
            for name in tvm.list_models(tvm):
                weights = tvm.get_model_weights(name)
                key = weights.__name__.replace('_Weights', '').lower()
                urls[f'{key}.default'] = weights.DEFAULT.url
                urls.update({f'{key}.{w.name.lower()}': w.url for w in weights})
        except (ImportError, AttributeError, ValueError):  # pragma: no cover - older torchvision
            pass
    return urls


def resolve_checkpoint(checkpoint: str) -> tuple[str, str | None]:
    """``(location, prefix)`` for an ``init_cfg=dict(type='Pretrained', checkpoint=...)``: model-zoo
    names with the schemes mmengine knows become their download URL (``mmcls://`` ones with the
    prefix ``'backbone.'``: MMClassification checkpoints of whole classifiers load into a backbone);
    anything else comes back unchanged with no prefix."""
    scheme = next((p for p in _SCHEMES if checkpoint.startswith(p)), None)
    if scheme is None:
        return checkpoint, None
    table, name = _SCHEMES[scheme], checkpoint[len(scheme):]
    urls = _url_table(table)
    if table == 'open-mmlab':
        renamed = _url_table('open-mmlab-deprecated').get(name)
        if renamed:
            logger.warning('%s%s is deprecated in favour of %s%s.', scheme, name, scheme, renamed)
            name = renamed
    elif scheme == 'modelzoo://':
        logger.warning('The modelzoo:// scheme is deprecated; write torchvision://%s.', name)
    key = name if name in urls else name.lower().replace('_weights.', '.')
    if key not in urls:
        raise CheckpointError(f'Unknown checkpoint {checkpoint!r}: {name!r} is not among the {len(urls)} '
                              f'{scheme} names.{did_you_mean(name, urls)} Use a path or an https:// URL otherwise.')
    if not urls[key]:
        raise CheckpointError(f'{checkpoint!r} has no published weights; use a path or an https:// URL.')
    return urls[key], 'backbone.' if table == 'mmcls' else None
