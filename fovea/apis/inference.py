"""Inference API: classify images, extract features and retrieve similar images.

The inferencers take a model by index name, shipped config name, config file or
``nn.Module``, plus an optional checkpoint, and accept images as file paths,
folders (every image inside, sorted), PIL images, numpy arrays (HWC/HW, RGB) and
tensors (CHW/HW uint8 0-255, float 0-1, or a BCHW batch). Images go through the
config's test pipeline (any ``LoadImageFromFile`` step is replaced by the
decoding done here) and the model's data preprocessor, as in evaluation.

MMPretrain's names and result keys: ``ImageClassificationInferencer`` returns
``pred_label``, ``pred_score``, ``pred_class`` and ``pred_scores`` per image;
``ImageRetrievalInferencer`` returns ``match_score``, ``sample_idx`` and
``sample`` per match.
"""
from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fovea.config import Config
from fovea.utils.errors import ConfigError, DataError

__all__ = ['ImageClassificationInferencer', 'FeatureExtractor', 'ImageRetrievalInferencer', 'inference_model',
           'load_image', 'collect_images', 'register_inferencer', 'IMAGE_EXTENSIONS']

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp', '.gif')

ImageInput = Any  # str | Path | PIL.Image | np.ndarray | torch.Tensor


# ---------------------------------------------------------------------------------------- image inputs
def load_image(path: str | os.PathLike) -> torch.Tensor:
    """Decode an image file to a uint8 (3, H, W) RGB tensor (greyscale files stay 1 channel).

    It is the training loader's decoder (:func:`fovea.data.transforms.loading.read_image`): EXIF
    orientation applied, decompression bombs refused from the header, and a truncated, corrupt or
    missing file is a :class:`DataError` that names it."""
    from fovea.data.transforms.loading import read_image
    if not os.path.isfile(path):
        raise DataError(f'image file {str(path)!r} does not exist; check the path')
    img = read_image(str(path), 'unchanged')  # as stored: greyscale stays 1 channel
    if img.shape[0] in (2, 4):  # drop alpha
        img = img[:img.shape[0] - 1]
    return img.contiguous()


def _array_to_tensor(arr: np.ndarray) -> torch.Tensor:
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise DataError(f'a numpy image must be HxW or HxWxC with C in (1, 3, 4), got shape {arr.shape}')
    if arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.dtype != np.uint8:
        arr = _float_to_uint8(arr.astype(np.float32))
    return torch.from_numpy(np.array(arr.transpose(2, 0, 1), copy=True, order="C"))


def _float_to_uint8(arr: np.ndarray) -> np.ndarray:
    scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0  # floats in [0, 1] or already on the 0-255 scale
    return np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)


def _tensor_to_uint8(t: torch.Tensor) -> torch.Tensor:
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3:
        raise DataError(f'an image tensor must be HxW or CxHxW, got shape {tuple(t.shape)}')
    if t.dtype == torch.uint8:
        return t.cpu()
    t = t.detach().float().cpu()
    scale = 255.0 if float(t.max()) <= 1.0 else 1.0
    return (t * scale).round().clamp(0, 255).to(torch.uint8)


def collect_images(inputs: ImageInput | Sequence[ImageInput],
                   skipped: list[tuple[str, str]] | None = None) -> list[tuple[torch.Tensor, str | None]]:
    """Expand inputs into ``(uint8 CHW tensor, path or None)`` pairs; folders give their images, sorted.

    An unreadable image file is a :class:`DataError` naming it; with a ``skipped`` list it is left
    out instead and ``(path, reason)`` is appended to that list."""
    def read(path: Path) -> None:
        try:
            out.append((load_image(path), str(path)))
        except DataError as exc:
            if skipped is None:
                raise
            skipped.append((str(path), str(exc)))

    from PIL import Image
    if isinstance(inputs, torch.Tensor) and inputs.ndim == 4:
        return [(_tensor_to_uint8(t), None) for t in inputs]
    if isinstance(inputs, (str, os.PathLike, np.ndarray, torch.Tensor, Image.Image)):
        inputs = [inputs]
    out: list[tuple[torch.Tensor, str | None]] = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike)):
            p = Path(item)
            if p.is_dir():
                files = sorted(f for f in p.rglob('*') if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file())
                if not files:
                    raise DataError(f'folder {str(p)!r} holds no images with extensions {IMAGE_EXTENSIONS}')
                for f in files:
                    read(f)
            else:
                read(p)
        elif isinstance(item, Image.Image):
            out.append((_array_to_tensor(np.asarray(item.convert('RGB') if item.mode not in ('L', 'RGB')
                                                    else item)), None))
        elif isinstance(item, np.ndarray):
            out.append((_array_to_tensor(item), None))
        elif isinstance(item, torch.Tensor):
            if item.ndim == 4:
                out.extend((_tensor_to_uint8(t), None) for t in item)
            else:
                out.append((_tensor_to_uint8(item), None))
        else:
            raise DataError(f'cannot read an image from a {type(item).__name__}; give a path, a folder, '
                            f'a PIL image, a numpy array or a tensor')
    return out


# ---------------------------------------------------------------------------------------- model loading
def _resolve_config(model: str | os.PathLike | Config) -> Config:
    """A Config from an index name, a shipped config name or a config file."""
    if isinstance(model, Config):
        return model
    from fovea.zoo import find_entry, model_index
    name = str(model)
    if name in model_index():
        return Config.fromfile(find_entry(name)['config'])
    try:
        return Config.fromfile(name)
    except (ConfigError, FileNotFoundError, OSError) as exc:
        if os.path.isfile(name):  # the file exists: its own error (syntax, untrusted content) says what is wrong
            raise
        from fovea.config import list_configs
        from fovea.utils.errors import did_you_mean
        raise ConfigError(f'{name!r} is neither a model name from the index nor a config file or shipped config.'
                          f'{did_you_mean(name, list(model_index()) + list_configs())} `fovea list-models` '
                          f'lists the model names, `fovea list-configs` the shipped configs.') from exc


def build_inference_model(model: str | os.PathLike | Config | nn.Module, pretrained: bool | str | None = None,
                          device: str | torch.device | None = None, **overrides: Any) -> nn.Module:
    """A model in eval mode with ``cfg`` and ``dataset_meta``, from anything the inferencers accept."""
    from fovea.apis.model import get_model
    if isinstance(model, nn.Module):
        if overrides:
            raise ConfigError(f'model overrides {sorted(overrides)} need a model name or config, not a built model')
        net = model
        if pretrained and pretrained is not True:
            from fovea.models.weights import load_weights
            load_weights(net, pretrained, require_all=True)
    else:
        from fovea.zoo import model_index
        spec = model if (isinstance(model, str) and model in model_index()) else _resolve_config(model)
        net = get_model(spec, pretrained=pretrained or False, require_all=True, **overrides)
    if device is not None:
        net.to(device)
    return net.eval()


def _test_pipeline_cfg(cfg: Config | None) -> list[dict]:
    if cfg is None:
        return []
    for key in ('test_dataloader', 'val_dataloader', 'test_pipeline', 'train_dataloader'):
        loader = cfg.get(key)
        if key == 'test_pipeline':  # a model config with a top-level test pipeline and no test loader
            if isinstance(loader, (list, tuple)):
                return copy.deepcopy(list(loader))
            continue
        if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict):
            ds = loader['dataset']
            while 'pipeline' not in ds and isinstance(ds.get('dataset'), dict):  # wrappers (RepeatDataset, ...)
                ds = ds['dataset']
            pipeline = ds.get('pipeline')
            if pipeline is not None:
                pipeline = copy.deepcopy(list(pipeline))
                if key == 'train_dataloader':  # no random augmentation at inference: keep geometry + packing
                    pipeline = [t for t in pipeline if t.get('type') in ('Resize', 'ResizeEdge', 'CenterCrop',
                                                                         'PackInputs')]
                return pipeline
    return []


class _BaseInferencer:
    """Shared machinery: model, test pipeline, batching."""

    def __init__(self, model: str | os.PathLike | Config | nn.Module, pretrained: bool | str | None = None,
                 device: str | torch.device | None = None, **overrides: Any):
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.model = build_inference_model(model, pretrained, device, **overrides)
        self.device = torch.device(device)
        self.cfg = getattr(self.model, 'cfg', None)
        self.pipeline = self._build_pipeline(_test_pipeline_cfg(self.cfg))
        self.in_channels = self._in_channels()

    def _build_pipeline(self, pipeline_cfg: list[dict]) -> Callable:
        from fovea.data.transforms.base import Compose
        steps = [t for t in pipeline_cfg if 'LoadImage' not in str(t.get('type', ''))]
        if not any(str(t.get('type', '')).endswith('PackInputs') for t in steps):
            steps.append(dict(type='PackInputs'))
        return Compose(steps)

    def _in_channels(self) -> int:
        pre = getattr(self.model, 'data_preprocessor', None)
        mean = getattr(pre, 'mean', None)
        if isinstance(mean, torch.Tensor) and mean.numel() in (1, 3):
            return mean.numel()
        return 3

    def _match_channels(self, img: torch.Tensor) -> torch.Tensor:
        c = img.shape[0]
        if c == self.in_channels:
            return img
        if self.in_channels == 1 and c == 3:
            from torchvision.transforms.v2 import functional as TF
            return TF.rgb_to_grayscale(img)
        if self.in_channels == 3 and c == 1:
            return img.expand(3, -1, -1).contiguous()
        raise DataError(f'the model takes {self.in_channels}-channel images; got an image with {c} channels')

    def collect(self, inputs: ImageInput | Sequence[ImageInput], skip_bad: bool = False):
        """:func:`collect_images`; with ``skip_bad`` unreadable files are left out and listed, as
        ``(path, reason)``, in ``self.skipped``."""
        self.skipped: list[tuple[str, str]] = []
        images = collect_images(inputs, self.skipped if skip_bad else None)
        if not images and self.skipped:
            raise DataError(f'none of the {len(self.skipped)} images could be read; the first: '
                            f'{self.skipped[0][1]}')
        return images

    def preprocess(self, images: list[tuple[torch.Tensor, str | None]],
                   fields: Sequence[dict] | None = None) -> list[dict]:
        """Run the test pipeline on each image: packed ``{'inputs', 'data_samples'}`` dicts. ``fields`` (one
        dict per image) go into the pipeline's input beside the image (a question its transforms clean)."""
        out = []
        for i, (img, path) in enumerate(images):
            img = self._match_channels(img)
            results = {'img': img, 'img_shape': tuple(img.shape[-2:]), 'ori_shape': tuple(img.shape[-2:])}
            if path is not None:
                results['img_path'] = path
            if fields is not None:
                results.update(fields[i])
            out.append(self.pipeline(results))
        return out

    @staticmethod
    def is_single(inputs: Any) -> bool:
        """Whether ``inputs`` is one input (so :func:`inference_model` returns one result, not a list)."""
        return not isinstance(inputs, (list, tuple)) and not (isinstance(inputs, torch.Tensor) and inputs.ndim == 4) \
            and not (isinstance(inputs, (str, os.PathLike)) and Path(inputs).is_dir())

    def batches(self, packed: list[dict], batch_size: int) -> Iterable[dict]:
        from fovea.data.collate import default_collate
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        for i in range(0, len(packed), batch_size):
            yield self.model.data_preprocessor(default_collate(packed[i:i + batch_size]), False)


# ---------------------------------------------------------------------------------------- classification
class ImageClassificationInferencer(_BaseInferencer):
    """Classify images with a classifier from the index, a config or a built model.

    Args:
        model: index name, shipped config name, config file, :class:`Config` or a built model.
        pretrained: ``True`` for the index's weights, or a checkpoint path.
        device: where to run (default: CUDA when available).
        classes: class names (default: the model's ``dataset_meta``, else the config's dataset).

    Example::

        >>> inferencer = ImageClassificationInferencer('lenet5_digits', pretrained='epoch_20.pth')
        >>> inferencer('digit.png')[0]['pred_class']
    """

    def __init__(self, model, pretrained: bool | str | None = None, device: str | torch.device | None = None,
                 classes: Sequence[str] | None = None, **overrides: Any):
        super().__init__(model, pretrained, device, **overrides)
        meta = getattr(self.model, 'dataset_meta', None) or {}
        self.classes = list(classes) if classes is not None else (list(meta['classes']) if meta.get('classes')
                                                                   else None)

    @torch.no_grad()
    def __call__(self, inputs: ImageInput | Sequence[ImageInput], batch_size: int = 1,
                 skip_bad: bool = False) -> list[dict]:
        """One dict per image: ``pred_label`` (int), ``pred_score`` (float), ``pred_class`` (str or None),
        ``pred_scores`` (numpy array of every class's probability) and ``img_path`` when read from a file.
        An unreadable file is a DataError naming it; ``skip_bad=True`` leaves it out (see ``self.skipped``)."""
        images = self.collect(inputs, skip_bad)
        packed = self.preprocess(images)
        results: list[dict] = []
        for batch in self.batches(packed, batch_size):
            samples = self.model(batch['inputs'], batch['data_samples'], mode='predict')
            for s in samples:
                scores = s.pred_score.float().cpu().numpy()
                label = int(s.pred_label[0]) if s.pred_label.numel() == 1 else int(scores.argmax())
                res = {'pred_label': label, 'pred_score': float(scores[label]),
                       'pred_class': self.classes[label] if self.classes and label < len(self.classes) else None,
                       'pred_scores': scores}
                if 'img_path' in s:
                    res['img_path'] = s.img_path
                results.append(res)
        return results

    def topk(self, result: dict, k: int = 5) -> list[tuple[int, str | None, float]]:
        """The k most likely ``(label, class name, score)`` of one result."""
        scores = result['pred_scores']
        order = np.argsort(-scores, kind='stable')[:k]
        return [(int(i), self.classes[i] if self.classes and i < len(self.classes) else None, float(scores[i]))
                for i in order]


# ---------------------------------------------------------------------------------------- features
class FeatureExtractor(_BaseInferencer):
    """Extract features of images: the backbone's stages, the neck's output or the head's pre-logits.

    Args:
        model / pretrained / device: as :class:`ImageClassificationInferencer`.
        stage: 'backbone' (a tuple of feature maps, one per ``out_indices``), 'neck' or 'pre_logits'.
        out_indices: which backbone stages to return (overrides ``model.backbone.out_indices``; needs a
            model name or config, not a built model).
    """

    def __init__(self, model, pretrained: bool | str | None = None, device: str | torch.device | None = None,
                 stage: str = 'backbone', out_indices: Sequence[int] | int | None = None, **overrides: Any):
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f"stage must be 'backbone', 'neck' or 'pre_logits', got {stage!r}")
        if out_indices is not None:
            overrides = dict(overrides)
            bb = dict(overrides.get('backbone') or {})
            bb['out_indices'] = tuple(out_indices) if not isinstance(out_indices, int) else out_indices
            overrides['backbone'] = bb
        super().__init__(model, pretrained, device, **overrides)
        if not hasattr(self.model, 'extract_feat'):
            raise ConfigError(f'{type(self.model).__name__} has no extract_feat(); FeatureExtractor needs a '
                              f'classifier-style model (backbone/neck/head)')
        self.stage = stage

    @torch.no_grad()
    def __call__(self, inputs: ImageInput | Sequence[ImageInput], batch_size: int = 1,
                 skip_bad: bool = False) -> list[Any]:
        """One entry per image: a tuple of CPU tensors (one per stage), or a single tensor
        (``skip_bad``: as :class:`ImageClassificationInferencer`)."""
        packed = self.preprocess(self.collect(inputs, skip_bad))
        out: list[Any] = []
        for batch in self.batches(packed, batch_size):
            feats = self.model.extract_feat(batch['inputs'], stage=self.stage)
            n = batch['inputs'].shape[0]
            for i in range(n):
                if isinstance(feats, (tuple, list)):
                    out.append(tuple(f[i].cpu() for f in feats))
                else:
                    out.append(feats[i].cpu())
        return out


# ---------------------------------------------------------------------------------------- retrieval
class ImageRetrievalInferencer(_BaseInferencer):
    """Find the gallery ("prototype") images most similar to a query, by cosine similarity of features.

    Args:
        model / pretrained / device: as :class:`ImageClassificationInferencer`.
        prototype: the gallery: a folder of images (class = first sub-folder name when images sit in
            sub-folders), a list of image paths, a dataset config dict (built with this model's test
            pipeline unless it has one), or a (N, D) tensor of ready features.
        prototype_cache: a ``.pt`` file; loaded when it exists and matches the gallery, else written.
        stage: which features to compare ('pre_logits' by default, the input of the classifier).
        prepare_batch_size: batch size for computing gallery features.
    """

    def __init__(self, model, prototype: Any, prototype_cache: str | os.PathLike | None = None,
                 pretrained: bool | str | None = None, device: str | torch.device | None = None,
                 stage: str = 'pre_logits', prepare_batch_size: int = 8, **overrides: Any):
        super().__init__(model, pretrained, device, **overrides)
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f"stage must be 'backbone', 'neck' or 'pre_logits', got {stage!r}")
        self.stage = stage
        self.prototype_samples, self.prototype = self._prepare_prototype(prototype, prototype_cache,
                                                                         prepare_batch_size)

    def _features(self, inputs: torch.Tensor) -> torch.Tensor:
        feats = self.model.extract_feat(inputs, stage=self.stage)
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        if feats.ndim > 2:  # feature maps: global average pooling
            feats = feats.flatten(2).mean(-1)
        return F.normalize(feats.float(), dim=1)

    @torch.no_grad()
    def _prepare_prototype(self, prototype: Any, cache: str | os.PathLike | None,
                           batch_size: int) -> tuple[list[dict], torch.Tensor]:
        if isinstance(prototype, torch.Tensor):
            if prototype.ndim != 2:
                raise DataError(f'a prototype tensor must be (N, D) features, got shape {tuple(prototype.shape)}')
            samples = [{'sample_idx': i} for i in range(prototype.shape[0])]
            return samples, F.normalize(prototype.float().to(self.device), dim=1)
        samples, packed = self._gallery_items(prototype)
        key = hashlib.sha256(repr([s.get('img_path', s['sample_idx']) for s in samples]).encode()).hexdigest()
        if cache is not None and os.path.isfile(cache):
            stored = torch.load(cache, map_location='cpu', weights_only=True)
            if isinstance(stored, dict) and stored.get('key') == key:
                return samples, stored['features'].to(self.device)
        feats = torch.cat([self._features(b['inputs']) for b in self.batches(packed, batch_size)])
        if cache is not None:
            from fovea.utils.io import atomic_save
            Path(cache).parent.mkdir(parents=True, exist_ok=True)
            payload = {'key': key, 'features': feats.cpu()}
            atomic_save(cache, lambda f: torch.save(payload, f))
        return samples, feats

    def _gallery_items(self, prototype: Any) -> tuple[list[dict], list[dict]]:
        if isinstance(prototype, dict):
            from fovea.registry import DATASETS
            ds_cfg = dict(prototype)
            if 'pipeline' not in ds_cfg:
                ds_cfg['pipeline'] = [t for t in _test_pipeline_cfg(self.cfg)]
            ds = DATASETS.build(ds_cfg, key='prototype')
            samples, packed = [], []
            for i in range(len(ds)):
                info = ds.get_data_info(i)
                samples.append({k: v for k, v in info.items() if k in ('img_path', 'gt_label', 'sample_idx')})
                item = ds[i]
                item['inputs'] = self._match_channels(item['inputs'])
                packed.append(item)
            return samples, packed
        images = collect_images(prototype)
        root = Path(prototype) if isinstance(prototype, (str, os.PathLike)) and Path(prototype).is_dir() else None
        samples = []
        for i, (_, path) in enumerate(images):
            s: dict = {'sample_idx': i}
            if path is not None:
                s['img_path'] = path
                if root is not None and len(Path(path).relative_to(root).parts) > 1:
                    s['class'] = Path(path).relative_to(root).parts[0]
            samples.append(s)
        return samples, self.preprocess(images)

    @torch.no_grad()
    def __call__(self, inputs: ImageInput | Sequence[ImageInput], topk: int = 5, batch_size: int = 1) -> list[list[dict]]:
        """For each query image, its ``topk`` matches: ``match_score`` (cosine similarity),
        ``sample_idx`` (index into the gallery) and ``sample`` (the gallery entry's info)."""
        packed = self.preprocess(collect_images(inputs))
        k = min(topk, self.prototype.shape[0])
        out = []
        for batch in self.batches(packed, batch_size):
            sim = self._features(batch['inputs']) @ self.prototype.T
            scores, idx = sim.topk(k, dim=1)
            for sc, ix in zip(scores.cpu(), idx.cpu()):
                out.append([{'match_score': float(s), 'sample_idx': int(i), 'sample': self.prototype_samples[int(i)]}
                            for s, i in zip(sc, ix)])
        return out


# ---------------------------------------------------------------------------------------- by task
_TASK_INFERENCERS: dict[str, type] = {
    'image classification': ImageClassificationInferencer,
    'image retrieval': ImageRetrievalInferencer,
}


def register_inferencer(task: str, cls: type) -> None:
    """Make :func:`inference_model` use ``cls`` for models of ``task`` (the zoo's task names)."""
    _TASK_INFERENCERS[task.lower()] = cls


def _task_of(model: Any) -> str:
    from fovea.zoo import model_index
    if isinstance(model, str) and model in model_index():
        return model_index()[model]['task']
    if isinstance(model, nn.Module):
        net = model
        return 'Image Classification' if hasattr(net, 'head') and hasattr(net, 'extract_feat') else type(net).__name__
    cfg = _resolve_config(model)
    mtype = str(cfg.to_dict()['model'].get('type', ''))
    if mtype.split('.')[-1] in ('ImageClassifier', 'TimmClassifier', 'HuggingFaceClassifier'):
        return 'Image Classification'
    if 'Retriever' in mtype:
        return 'Image Retrieval'
    return mtype


def inference_model(model: Any, images: ImageInput | Sequence[ImageInput], *args: Any, **kwargs: Any) -> Any:
    """Run the inferencer that fits the model's task on ``images``.

    ``model`` is an index name, shipped config name, config file or built model. Further positional
    arguments go to the call, after the images (a VQA question, a grounding text), as in MMPretrain.
    Keyword arguments the inferencer's constructor takes (``pretrained``, ``device``, ``classes``,
    ``prototype``...) go to it; the rest (``batch_size``, ``topk``) to the call. Returns one result per
    image (a single result when one image was given).
    """
    import inspect
    task = _task_of(model)
    cls = _TASK_INFERENCERS.get(task.lower())
    if cls is None:
        raise ConfigError(f'no inferencer for task {task!r}; supported tasks: '
                          f'{sorted(t.title() for t in _TASK_INFERENCERS)}')
    init_keys = set(inspect.signature(cls.__init__).parameters)
    init_kw = {k: v for k, v in kwargs.items() if k in init_keys}
    call_kw = {k: v for k, v in kwargs.items() if k not in init_keys}
    results = cls(model, **init_kw)(images, *args, **call_kw)
    return results[0] if cls.is_single(images) and len(results) == 1 else results
