"""Chinese CLIP (Yang et al., "Chinese CLIP: Contrastive Vision-Language Pretraining in Chinese", 2022): CLIP's
image towers (ViT, modified ResNet) with a Chinese BERT text tower, the text embedding taken at ``[CLS]``.

MMPretrain's class name, arguments and state-dict names (``vision_backbone``, ``vision_projection``,
``text_backbone``, ``text_projection``, ``logit_scale``), so its configs and converted checkpoints work
unchanged; OFA-Sys' checkpoints and ``transformers``' ``ChineseCLIPModel`` are translated by
``fovea/convert/chinese_clip.py``. Zero-shot prediction, retrieval features, the contrastive loss and the
tower locks are :class:`~fovea.models.multimodal.clip.CLIPBase`'s, as for CLIP.

The tokenizer's vocabulary (Chinese BERT's ``vocab.txt``) does not ship with fovea: it is found when text is
first tokenized (``fovea/data/text/chinese_clip_tokenizer.py`` says where), so a model builds, loads weights and
embeds images without it.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from fovea.data.datasets.categories import CIFAR100_CATEGORIES_CN
from fovea.data.text.chinese_clip_tokenizer import ChineseCLIPTokenizer, build_chinese_clip_tokenizer
from fovea.data.text.prompts import CHINESE_CLIP_TEMPLATES
from fovea.models.multimodal.clip.clip import CLIPBase
from fovea.models.multimodal.clip.modified_resnet import ModifiedResNet
from fovea.registry import MODELS, key_scope
from fovea.utils.errors import ConfigError

__all__ = ['ChineseCLIP']


@MODELS.register_module()
class ChineseCLIP(CLIPBase):
    """Chinese CLIP for zero-shot classification, retrieval and contrastive training.

    Args:
        vision_backbone: the image tower: ``VisionTransformer`` (``pre_norm=True``, QuickGELU, ``out_type='cls_token'``)
            projected by ``vision_projection``, or ``ModifiedResNet`` (MMPretrain's ``depth``/``base_channels``/
            ``input_size``/``num_attn_heads``/``output_dim``), which projects itself.
        text_backbone: ``dict(type='BertModelCN', config=<BERT settings>)``.
        tokenizer: MMPretrain's ``dict(type='FullTokenizer', vocab_file=URL_OR_PATH)`` (read locally), or
            ``vocab_file``/``name_or_path`` of a ``vocab.txt``; None: the vocabulary at fovea's default place.
        proj_dim: joint embedding width.
        text_prototype: class names for zero-shot ``predict``: 'cifar100' (CIFAR-100's Chinese names) or a list
            (default: the model's ``dataset_meta['classes']``).
        text_prompt: 'openai' (Chinese CLIP's Chinese templates) or a list of templates with one ``{}``.
        context_length: tokens per text (52).
        loss / lock_image / lock_text / init_logit_scale / cached_accumulation: as :class:`CLIP`.
    """

    PROTOTYPE_SETS = {'cifar100': CIFAR100_CATEGORIES_CN}
    PROMPT_SETS = {'openai': CHINESE_CLIP_TEMPLATES}
    IMAGE_KEYS = ('vision_backbone.', 'vision_projection')
    TEXT_KEY = 'text_backbone.embeddings.word_embeddings.weight'

    def __init__(self, vision_backbone: dict, text_backbone: dict, tokenizer: dict | None = None,
                 proj_dim: int = 512, text_prototype: str | Sequence[str] | None = None,
                 text_prompt: str | Sequence[str] = 'openai', context_length: int = 52,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None, loss: dict | None = None,
                 lock_image: bool = False, lock_text: bool = False, init_logit_scale: float = math.log(1 / 0.07),
                 cached_accumulation: bool = False):
        super().__init__(data_preprocessor, init_cfg, loss, lock_image, lock_text, text_prototype, text_prompt,
                         cached_accumulation)
        self.vision_backbone = MODELS.build(vision_backbone, key='vision_backbone')
        self.text_backbone = MODELS.build(text_backbone, key='text_backbone')
        if isinstance(self.vision_backbone, ModifiedResNet):
            if self.vision_backbone.output_dim != proj_dim:
                raise ConfigError(f'ChineseCLIP proj_dim={proj_dim} does not match the ModifiedResNet\'s output_dim='
                                  f'{self.vision_backbone.output_dim} (model.vision_backbone.output_dim).')
            self.vision_projection = None
        else:
            width = getattr(self.vision_backbone, 'embed_dims', None)
            if width is None:
                raise ConfigError(f'ChineseCLIP vision_backbone {type(self.vision_backbone).__name__} has no embed_dims; '
                                  f'use VisionTransformer or ModifiedResNet.')
            self.vision_projection = nn.Parameter(torch.empty(width, proj_dim))
        hidden = self.text_backbone.config.hidden_size
        self.text_projection = nn.Parameter(torch.empty(hidden, proj_dim))
        self.logit_scale = nn.Parameter(torch.tensor(float(init_logit_scale)))
        self.context_length = context_length
        self._tokenizer_cfg = tokenizer
        self._tokenizer: ChineseCLIPTokenizer | None = None
        self._initialize_projections()
        self._apply_locks()

    def _initialize_projections(self) -> None:
        if self.vision_projection is not None:
            nn.init.normal_(self.vision_projection, std=self.vision_projection.shape[0] ** -0.5)
        nn.init.normal_(self.text_projection, std=self.text_projection.shape[0] ** -0.5)

    def init_weights(self) -> None:
        super().init_weights()
        self._initialize_projections()
        self._prototype_cache.clear()

    def _image_modules(self) -> list:
        return [self.vision_backbone, self.vision_projection]

    def _text_modules(self) -> list:
        return [self.text_backbone, self.text_projection]

    # ------------------------------------------------------------------ features
    @property
    def tokenizer(self) -> ChineseCLIPTokenizer:
        """The tokenizer, built on first use (it needs the vocabulary file)."""
        if self._tokenizer is None:
            with key_scope('tokenizer'):
                tok = build_chinese_clip_tokenizer(self._tokenizer_cfg, self.context_length)
            vocab = self.text_backbone.config.vocab_size
            if tok.vocab_size > vocab:
                raise ConfigError(f'ChineseCLIP: the tokenizer\'s vocabulary {tok.vocab_file} has {tok.vocab_size} '
                                  f'tokens but text_backbone.config.vocab_size is {vocab}; use the vocab.txt of the '
                                  f'checkpoint (21,128 lines for Chinese CLIP).')
            self._tokenizer = tok
        return self._tokenizer

    def tokenize(self, texts: str | Sequence[str]) -> torch.Tensor:
        """(N, context_length) ids ``[CLS] ... [SEP]`` padded with ``[PAD]`` (too long texts cut, ``[SEP]`` kept)."""
        return self.tokenizer(texts, self.context_length)

    def extract_image_feat(self, images: torch.Tensor) -> torch.Tensor:
        """(B, proj_dim) image embeddings, not normalised."""
        feats = self.vision_backbone(images)[-1]
        return feats if self.vision_projection is None else feats @ self.vision_projection

    def extract_text_feat(self, texts: torch.Tensor | Sequence[str]) -> torch.Tensor:
        """(B, proj_dim) text embeddings (not normalised) of token ids or strings: the ``[CLS]`` state, padding
        (``[PAD]``, id 0 in Chinese CLIP's vocabulary) masked out."""
        if not isinstance(texts, torch.Tensor):
            texts = self.tokenize(texts).to(self.text_projection.device)
        pad = self._tokenizer.pad_token_id if self._tokenizer is not None else self.text_backbone.config.pad_token_id
        x = self.text_backbone(texts, attention_mask=texts.ne(pad)).last_hidden_state
        return x[:, 0] @ self.text_projection
