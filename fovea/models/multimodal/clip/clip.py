"""CLIP (Radford et al., "Learning Transferable Visual Models From Natural Language Supervision",
ICML 2021): an image tower and a causal text transformer projected into one embedding space,
trained with a symmetric contrastive loss and used for zero-shot classification and retrieval.

MMPretrain's class names, arguments and state-dict names (``visual``, ``visual_proj.proj``,
``transformer.resblocks``, ``token_embedding``, ``positional_embedding``, ``ln_final``,
``text_projection``, ``logit_scale``), so its configs and checkpoints work unchanged; OpenAI and
open_clip checkpoints are translated by ``fovea/convert/clip.py``. Unlike MMPretrain's, the model
trains (``mode='loss'``: :class:`~fovea.models.losses.ClipLoss` over all ranks' pairs, the text of
each pair in its DataSample's ``text`` field).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.data.text.clip_tokenizer import build_tokenizer
from fovea.data.text.prompts import resolve_classes, resolve_templates
from fovea.models.base import BaseModel, BaseModule
from fovea.models.data_preprocessor import ClsDataPreprocessor
from fovea.models.layers.freeze import freeze_module
from fovea.models.utils.feature_cache import FeatureCache
from fovea.registry import MODELS, key_scope
from fovea.structures import DataSample
from fovea.utils.errors import CheckpointError, ConfigError, DataError

__all__ = ['CLIPBase', 'CLIP', 'CLIPZeroShot', 'CLIPProjection', 'MultiModalDataPreprocessor']

#: logit_scale is clamped to [0, ln 100] after every optimizer step (open_clip)
MAX_LOGIT_SCALE = math.log(100)


@MODELS.register_module()
class MultiModalDataPreprocessor(ClsDataPreprocessor):
    """MMPretrain's preprocessor name for multimodal models: images as :class:`ClsDataPreprocessor`
    (mean/std on the 0-255 scale, ``to_rgb``); texts stay in the DataSamples' ``text`` field.

    Image pairs (NLVR) and clips come as (B, T, C, H, W) batches (each of the B * T images preprocessed)
    or lists of T (B, C, H, W) batches (returned as such); a batch without images (``inputs`` missing or
    None) passes through as None, so the model names what is missing."""

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data.get('inputs')
        if inputs is None:
            return {'inputs': None, 'data_samples': self.cast(data.get('data_samples'))}
        if isinstance(inputs, torch.Tensor) and inputs.ndim == 5:
            b, t = inputs.shape[:2]
            out = super().forward(dict(data, inputs=inputs.flatten(0, 1)), training)
            return dict(out, inputs=out['inputs'].unflatten(0, (b, t)))
        if isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].ndim == 4:
            views = [super(MultiModalDataPreprocessor, self).forward(dict(data, inputs=v), training) for v in inputs]
            return dict(views[0], inputs=[v['inputs'] for v in views])
        return super().forward(data, training)


@MODELS.register_module()
class CLIPProjection(BaseModule):
    """``x @ proj`` on the last backbone output (MMPretrain's CLIP neck): (B, in) -> ``((B, out),)``."""

    def __init__(self, in_channels: int, out_channels: int, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.proj = nn.Parameter(in_channels ** -0.5 * torch.randn(in_channels, out_channels))

    def forward(self, inputs: tuple | torch.Tensor) -> tuple[torch.Tensor]:
        x = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
        return (x @ self.proj,)


def _tower_kind(keys, prefix: str = 'visual.') -> str | None:
    if any(k.startswith(prefix + 'layer1.') for k in keys):
        return 'ModifiedResNet'
    if any(k.startswith(prefix + 'layers.') for k in keys):
        return 'VisionTransformer'
    return None


class CLIPBase(BaseModel):
    """What CLIP-style image-text models share (:class:`CLIP`, ``ChineseCLIP``): ``logit_scale``, the contrastive
    loss over all ranks (``loss_features`` + ``loss``, feature-cached accumulation), frozen towers, scaled
    similarities and zero-shot prediction against cached, prompt-ensembled class prototypes.

    A subclass builds its towers and ``logit_scale`` after ``super().__init__``, then calls ``_apply_locks()``,
    and implements ``tokenize``, ``extract_image_feat``, ``extract_text_feat``, ``_image_modules`` and
    ``_text_modules`` (the modules and parameters a lock freezes). Class attributes: ``PROTOTYPE_SETS`` /
    ``PROMPT_SETS`` (names ``text_prototype`` / ``text_prompt`` may give; None: fovea's English sets),
    ``IMAGE_KEYS`` (state-dict prefixes of the image tower) and ``TEXT_KEY`` (a key every whole checkpoint of the
    model has), for the tower check of :meth:`adapt_state_dict`.
    """

    PROTOTYPE_SETS: dict | None = None
    PROMPT_SETS: dict | None = None
    IMAGE_KEYS: tuple[str, ...] = ('visual.', 'visual_proj.')
    TEXT_KEY = 'token_embedding.weight'

    def __init__(self, data_preprocessor: dict | None = None, init_cfg: dict | None = None, loss: dict | None = None,
                 lock_image: bool = False, lock_text: bool = False, text_prototype: str | Sequence[str] | None = None,
                 text_prompt: str | Sequence[str] = 'vanilla', cached_accumulation: bool = False):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'MultiModalDataPreprocessor')
        super().__init__(data_preprocessor, init_cfg)
        self.loss_module = MODELS.build(loss or dict(type='ClipLoss'), key='loss')
        self.lock_image, self.lock_text = lock_image, lock_text
        self.prototype = self._resolve_classes(text_prototype) if text_prototype is not None else None
        self.templates = self._resolve_templates(text_prompt)
        self._prototype_cache: dict[tuple, torch.Tensor] = {}
        self.feature_cache = FeatureCache() if cached_accumulation else None
        self.register_load_state_dict_post_hook(lambda module, keys: module._prototype_cache.clear())

    def _resolve_classes(self, classes: str | Sequence[str]) -> tuple[str, ...]:
        return resolve_classes(classes, self.PROTOTYPE_SETS)

    def _resolve_templates(self, templates: str | Sequence[str]) -> tuple[str, ...]:
        return resolve_templates(templates, self.PROMPT_SETS)

    # ------------------------------------------------------------------ towers (subclasses)
    def tokenize(self, texts: str | Sequence[str]) -> torch.Tensor:
        raise NotImplementedError

    def extract_image_feat(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extract_text_feat(self, texts) -> torch.Tensor:
        raise NotImplementedError

    def _image_modules(self) -> list[nn.Module | nn.Parameter]:
        raise NotImplementedError

    def _text_modules(self) -> list[nn.Module | nn.Parameter]:
        raise NotImplementedError

    # ------------------------------------------------------------------ locks
    def _apply_locks(self) -> None:
        for locked, parts in ((self.lock_image, self._image_modules()), (self.lock_text, self._text_modules())):
            for m in parts if locked else ():
                if isinstance(m, nn.Parameter):
                    m.requires_grad_(False)
                elif m is not None:
                    freeze_module(m)

    def train(self, mode: bool = True) -> 'CLIPBase':
        super().train(mode)
        self._prototype_cache.clear()
        for locked, parts in ((self.lock_image, self._image_modules()), (self.lock_text, self._text_modules())):
            for m in parts if mode and locked else ():
                if isinstance(m, nn.Module):
                    m.eval()
        return self

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        """Refuse a checkpoint of this model whose towers are not this config's, naming the tower (before
        anything is loaded)."""
        keys = [k[len(prefix):] for k in state_dict if k.startswith(prefix)]
        if not any(k.startswith(self.IMAGE_KEYS[0]) for k in keys) or self.TEXT_KEY not in keys:
            return
        ckpt_kind, model_kind = _tower_kind(keys, self.IMAGE_KEYS[0]), type(self._image_modules()[0]).__name__
        if ckpt_kind and ckpt_kind != model_kind:
            raise CheckpointError(f'The checkpoint\'s image tower is a {ckpt_kind}, but the config builds a '
                                  f'{model_kind} (model.vision_backbone): use the config that matches the '
                                  f'checkpoint (e.g. a ViT config for ViT weights, ModifiedResNet for RN50).')
        own = self.state_dict()
        for tower, test in (('image tower (model.vision_backbone / projection)',
                             lambda k: k.startswith(self.IMAGE_KEYS)),
                            ('text tower (model.text_backbone / its embeddings / text_projection)',
                             lambda k: not k.startswith(self.IMAGE_KEYS))):
            bad = [(k, tuple(state_dict[prefix + k].shape), tuple(own[k].shape)) for k in keys
                   if test(k) and k in own and not k.endswith('pos_embed') and k != 'positional_embedding'
                   and tuple(state_dict[prefix + k].shape) != tuple(own[k].shape)]
            if bad:
                k, a, b = bad[0]
                raise CheckpointError(f'The checkpoint\'s {tower} does not match the config: {k} is {a} in the '
                                      f'checkpoint and {b} in the model ({len(bad)} tensors differ). Use the config '
                                      f'of the checkpoint\'s architecture (width, layers, patch size).')

    # ------------------------------------------------------------------ features
    def extract_feat(self, images: torch.Tensor | None = None, texts=None):
        """Image and/or text embeddings; both given: L2-normalised, as MMPretrain's ``extract_feat``."""
        if images is None and texts is None:
            raise ValueError(f'{type(self).__name__}.extract_feat needs images or texts.')
        if images is None:
            return self.extract_text_feat(texts)
        if texts is None:
            return self.extract_image_feat(images)
        return (F.normalize(self.extract_image_feat(images), dim=-1),
                F.normalize(self.extract_text_feat(texts), dim=-1))

    def compute_similarity(self, images: torch.Tensor, texts) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits_per_image, logits_per_text): scaled cosine similarities."""
        img, txt = self.extract_feat(images, texts)
        logits = self.logit_scale.exp() * img @ txt.T
        return logits, logits.T

    # ------------------------------------------------------------------ training
    def _texts(self, data_samples) -> list[str]:
        name = type(self).__name__
        if not data_samples:
            raise DataError(f'{name} training needs data_samples with a `text` field per image (PackInputs with '
                            "algorithm_keys=['text']).")
        missing = [i for i, s in enumerate(data_samples) if not isinstance(s.get('text'), str)]
        if missing:
            raise DataError(f'{name} training: sample(s) {missing[:5]} of the batch have no `text` caption; '
                            f"image-text datasets set it and PackInputs must copy it (algorithm_keys=['text']).")
        return [s.text for s in data_samples]

    def loss_features(self, inputs: torch.Tensor, data_samples=None) -> dict[str, torch.Tensor]:
        """What the contrastive loss needs of each pair: L2-normalised ``image`` and ``text`` embeddings
        (and ``labels`` for same-label positives)."""
        tokens = self.tokenize(self._texts(data_samples)).to(inputs.device)
        feats = {'image': F.normalize(self.extract_image_feat(inputs), dim=-1),
                 'text': F.normalize(self.extract_text_feat(tokens), dim=-1)}
        if getattr(self.loss_module, 'same_label_positives', False):
            if not all('gt_label' in s for s in data_samples):
                raise DataError('ClipLoss(same_label_positives=True) needs a gt_label in every sample; the batch has '
                                'samples without one.')
            feats['labels'] = torch.cat([s.gt_label.reshape(-1)[:1] for s in data_samples]).to(inputs.device)
        return feats

    def loss(self, inputs: torch.Tensor, data_samples=None) -> dict[str, torch.Tensor]:
        feats = self.loss_features(inputs, data_samples)
        scale = self.logit_scale.exp()
        if self.feature_cache is not None:  # the whole accumulated batch (cached_accumulation)
            feats, scale = self.feature_cache.whole_batch(feats), self.feature_cache.shared(scale)
        args = (feats['image'], feats['text'], scale) + ((feats['labels'],) if 'labels' in feats else ())
        return {'loss': self.loss_module(*args), 'logit_scale': scale.detach()}

    def after_optimizer_step(self, step: int, max_steps: int | None = None) -> None:
        with torch.no_grad():
            self.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        self._prototype_cache.clear()

    # ------------------------------------------------------------------ zero-shot
    def set_classes(self, classes: str | Sequence[str], templates: str | Sequence[str] | None = None) -> None:
        """Class names (and templates) for :meth:`predict`."""
        prototype = self._resolve_classes(classes)
        self.templates = self._resolve_templates(templates) if templates is not None else self.templates
        self.prototype = prototype

    @torch.no_grad()
    def class_embeddings(self, classes: Sequence[str] | None = None, templates: Sequence[str] | None = None,
                         batch_size: int = 256) -> torch.Tensor:
        """(num_classes, proj_dim) L2-normalised prototypes: each class's template embeddings, normalised,
        averaged and normalised again (OpenAI's prompt ensembling); cached until the weights change."""
        classes = self._resolve_classes(classes) if classes is not None else self._classes()
        templates = self._resolve_templates(templates) if templates is not None else self.templates
        key = (classes, templates)
        if key not in self._prototype_cache:
            texts = [t.format(c) for c in classes for t in templates]
            device = self.logit_scale.device
            feats = torch.cat([F.normalize(self.extract_text_feat(self.tokenize(texts[i:i + batch_size]).to(device)),
                                           dim=-1) for i in range(0, len(texts), batch_size)])
            protos = F.normalize(feats.view(len(classes), len(templates), -1).mean(1), dim=-1)
            self._prototype_cache.clear()
            self._prototype_cache[key] = protos
        return self._prototype_cache[key]

    def _classes(self) -> tuple[str, ...]:
        if self.prototype is not None:
            return self.prototype
        classes = (getattr(self, 'dataset_meta', None) or {}).get('classes')
        if classes:
            return self._resolve_classes(classes)
        names = "'imagenet'/'cifar10'/'cifar100'" if self.PROTOTYPE_SETS is None else \
            '/'.join(repr(n) for n in self.PROTOTYPE_SETS)
        raise ConfigError(f'{type(self).__name__} zero-shot prediction needs class names: set model.text_prototype '
                          f'(a list, or {names}) or call model.set_classes([...]).')

    def predict(self, inputs: torch.Tensor, data_samples=None) -> list[DataSample]:
        protos = self.class_embeddings()
        image = F.normalize(self.extract_image_feat(inputs), dim=-1)
        scores = (self.logit_scale.exp() * image @ protos.to(image.dtype).T).softmax(dim=-1).detach()
        labels = scores.argmax(dim=1, keepdim=True)
        out = []
        for i in range(scores.shape[0]):
            sample = data_samples[i] if data_samples is not None else DataSample()
            out.append(sample.set_pred_score(scores[i]).set_pred_label(labels[i]))
        return out

    def _forward(self, inputs: torch.Tensor, data_samples=None) -> torch.Tensor:
        return self.extract_image_feat(inputs)


@MODELS.register_module()
class CLIP(CLIPBase):
    """CLIP for training, zero-shot classification and retrieval.

    Args:
        vision_backbone: the image tower (``VisionTransformer`` with ``pre_norm=True`` and, for
            OpenAI's weights, ``layer_cfgs=dict(act_cfg=dict(type='QuickGELU'))``; or ``ModifiedResNet``).
        projection: image projection (``CLIPProjection``), or None when the tower projects itself
            (the ResNet's attention pooling).
        text_backbone: the text transformer (``CLIPTransformer``; its attention is made causal).
        tokenizer: ``None`` (fovea's CLIP BPE vocabulary), ``dict(type='CLIPTokenizer', vocab_file=...)``
            or MMPretrain's ``dict(type='AutoTokenizer', name_or_path=<CLIP hub id>)`` (read locally).
        vocab_size / transformer_width / proj_dim / context_length: text embedding table, text width,
            joint embedding width, tokens per text.
        loss: the contrastive loss (``ClipLoss``).
        lock_image / lock_text: freeze a tower (its parameters get no gradient, its norms stay in
            eval mode); open_clip's ``--lock-image`` / ``--lock-text``.
        text_prototype: class names for zero-shot ``predict``: 'imagenet', 'cifar10', 'cifar100' or a
            list (default: the model's ``dataset_meta['classes']``).
        text_prompt: templates: 'vanilla', 'openai_imagenet', 'openai_cifar100', 'openai_imagenet_sub'
            or a list of strings with one ``{}``.
        init_logit_scale: initial ``logit_scale`` (ln(1/0.07)).
        cached_accumulation: with ``optim_wrapper.accumulative_counts = K > 1``, every micro-step's loss
            contrasts the whole accumulated batch (open_clip's ``--accum-freq``): the K micro-batches'
            features are computed without gradient first, then each micro-batch again with gradient, the
            others' cached features in its loss (``models/utils/feature_cache.py``). The gradient equals
            one batch K times as large; it costs one extra forward pass per micro-batch and keeps the K
            preprocessed micro-batches on the device. Off: each micro-batch is contrasted on its own.
    """

    def __init__(self, vision_backbone: dict, projection: dict | None, text_backbone: dict,
                 tokenizer: dict | None = None, vocab_size: int = 49408, transformer_width: int = 512,
                 proj_dim: int = 512, context_length: int = 77, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None, loss: dict | None = None, lock_image: bool = False,
                 lock_text: bool = False, text_prototype: str | Sequence[str] | None = None,
                 text_prompt: str | Sequence[str] = 'vanilla', init_logit_scale: float = math.log(1 / 0.07),
                 cached_accumulation: bool = False):
        super().__init__(data_preprocessor, init_cfg, loss, lock_image, lock_text, text_prototype, text_prompt,
                         cached_accumulation)
        self.context_length = context_length
        self.visual = MODELS.build(vision_backbone, key='vision_backbone')
        self.visual_proj = MODELS.build(projection, key='projection') if projection is not None else None
        text_backbone = dict(text_backbone)
        if text_backbone.get('type', 'CLIPTransformer') in ('CLIPTransformer', 'mmpretrain.CLIPTransformer'):
            text_backbone['attn_mask'] = True
        self.transformer = MODELS.build(text_backbone, key='text_backbone')
        width = getattr(self.transformer, 'width', transformer_width)
        if width != transformer_width:
            raise ConfigError(f'CLIP transformer_width={transformer_width} does not match text_backbone.width={width}.')
        self.vocab_size = vocab_size
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.ln_final = nn.LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, proj_dim))
        self.logit_scale = nn.Parameter(torch.tensor(float(init_logit_scale)))
        with key_scope('tokenizer'):
            self.tokenizer = build_tokenizer(tokenizer, context_length)
        if self.tokenizer.vocab_size > vocab_size:
            raise ConfigError(f'CLIP vocab_size={vocab_size} is smaller than the tokenizer\'s {self.tokenizer.vocab_size} '
                              f'tokens.')
        self._initialize_text()
        self._apply_locks()

    # ------------------------------------------------------------------ weights
    def _initialize_text(self) -> None:
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=self.transformer.width ** -0.5)
        if hasattr(self.transformer, 'init_weights'):
            self.transformer.init_weights()

    def init_weights(self) -> None:
        super().init_weights()
        self._initialize_text()
        self._prototype_cache.clear()

    def _image_modules(self) -> list:
        return [self.visual, self.visual_proj]

    def _text_modules(self) -> list:
        return [self.transformer, self.token_embedding, self.ln_final, self.positional_embedding,
                self.text_projection]

    # ------------------------------------------------------------------ features
    def tokenize(self, texts: str | Sequence[str]) -> torch.Tensor:
        """(N, context_length) token ids (too long texts are truncated, the end token kept)."""
        return self.tokenizer(texts, self.context_length)

    def extract_image_feat(self, images: torch.Tensor) -> torch.Tensor:
        """(B, proj_dim) image embeddings, not normalised."""
        feats = self.visual(images)
        return self.visual_proj(feats)[0] if self.visual_proj is not None else feats[-1]

    def extract_text_feat(self, texts: torch.Tensor | Sequence[str]) -> torch.Tensor:
        """(B, proj_dim) text embeddings (not normalised) of token ids or strings, pooled at the end token
        (the highest id of each row). Tokens after the batch's last end token are cut (the attention is
        causal, so the result is the same)."""
        if not isinstance(texts, torch.Tensor):
            texts = self.tokenize(texts).to(self.token_embedding.weight.device)
        eot = texts.argmax(dim=-1)
        if getattr(self.transformer, 'causal', False):
            texts = texts[:, :int(eot.max()) + 1]
        x = self.token_embedding(texts) + self.positional_embedding[:texts.shape[1]]
        x = self.ln_final(self.transformer(x))
        return x[torch.arange(x.shape[0], device=x.device), eot] @ self.text_projection


@MODELS.register_module()
class CLIPZeroShot(CLIP):
    """MMPretrain's zero-shot CLIP: :class:`CLIP` whose ``text_prototype`` defaults to 'imagenet'."""

    def __init__(self, *args, text_prototype: str | Sequence[str] = 'imagenet', **kwargs):
        super().__init__(*args, text_prototype=text_prototype, **kwargs)
