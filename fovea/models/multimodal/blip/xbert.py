"""BLIP's text transformer (Li et al., "BLIP: Bootstrapping Language-Image Pre-training", ICML 2022):
BERT whose layers can also cross-attend to image tokens ("MED", the multimodal mixture of
encoder-decoder), as a bidirectional encoder (:class:`XBertEncoder`) or a causal language model
(:class:`XBertLMHeadDecoder`).

MMPretrain's registry names and arguments (``med_config``: a BERT config dict, as its blip configs
write it, or the path of Salesforce's ``med_config.json``) and MMPretrain's / Salesforce BLIP's state-dict
names (``embeddings.word_embeddings``, ``encoder.layer.N.attention.self.query``,
``encoder.layer.N.crossattention.self.key``, ``...output.LayerNorm``; the decoder adds ``bert.`` and
``cls.predictions.{transform.dense, transform.LayerNorm, decoder, bias}``), so their checkpoints load by
name. Hugging Face ``transformers`` BLIP checkpoints use the same names below ``text_encoder.`` /
``text_decoder.`` (see ``fovea/convert/blip.py``).

Public interface (what BLIP models build on):

* ``XBertEncoder(med_config)(input_ids, attention_mask=None, encoder_hidden_states=None,
  encoder_attention_mask=None, mode='multimodal', encoder_embeds=None, token_type_ids=None)`` ->
  :class:`XBertOutput` with ``last_hidden_state`` (B, L, hidden). ``mode='text'`` skips the
  cross-attention (the unimodal text encoder of ITC); ``'multimodal'`` cross-attends in every layer
  to ``encoder_hidden_states`` (B, N, encoder_width) (the ITM / VQA encoder); ``'fusion'`` runs only the
  layers from ``med_config['fusion_layer']`` on (ALBEF), usually on ``encoder_embeds`` (the output of a
  ``mode='text'`` pass) instead of ``input_ids``. With ``med_config['nlvr']=True`` the cross-attention is
  BLIP-NLVR's twin form: ``encoder_hidden_states`` and ``encoder_attention_mask`` are lists of two
  (one per image), attended by ``self0``/``self1`` and merged (``merge_layer`` from layer 6 on).
* ``XBertLMHeadDecoder(med_config)(input_ids, attention_mask=None, encoder_hidden_states=None,
  encoder_attention_mask=None, labels=None, past_key_values=None, use_cache=False, reduction='mean',
  return_logits=False, inputs_embeds=None, output_hidden_states=False)`` -> :class:`XBertOutput` with
  ``logits`` (B, L, vocab), ``loss`` (next-token cross entropy, label smoothing 0.1 as BLIP, targets
  ``-100`` ignored; ``reduction='none'`` gives one summed loss per sequence), ``past_key_values``
  (a :class:`KVCache` when ``use_cache``) and ``hidden_states`` (embeddings + each layer's output when
  ``output_hidden_states``). Attention is causal; ``attention_mask`` (B, L_past + L) marks padding.
  ``return_logits=True`` returns only the (B, L - 1, vocab) logits that predict tokens 1..L-1.
* ``XBertLMHeadDecoder.generate(input_ids, encoder_hidden_states, ...)``: greedy, beam search and
  nucleus sampling on the key/value cache (``fovea.models.multimodal.blip.generation``).

``encoder_attention_mask`` may be omitted (every image token is attended); masks are 1 for tokens
to attend and 0 for padding. Attention runs on :func:`torch.nn.functional.scaled_dot_product_attention`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['MedConfig', 'KVCache', 'XBertOutput', 'XBertEncoder', 'XBertLMHeadDecoder', 'Linear', 'check_vocab_fits']

#: additive mask value for padding and future tokens (BLIP's)
MASK_VALUE = -10000.0

#: keys of Hugging Face BERT configs that say nothing about the architecture; ignored
_IGNORED_KEYS = {'architectures', 'model_type', 'transformers_version', 'torch_dtype', 'dtype',
                 'gradient_checkpointing', 'use_cache', 'classifier_dropout', 'bos_token_id', 'eos_token_id',
                 'sep_token_id', 'is_decoder', 'tie_word_embeddings', 'output_attentions', 'output_hidden_states',
                 'return_dict', 'chunk_size_feed_forward', 'projection_dim', 'label_smoothing', '_name_or_path',
                 'id2label', 'label2id', 'initializer_factor'}

_ACTIVATIONS = {'gelu': lambda: nn.GELU(), 'gelu_new': lambda: nn.GELU(approximate='tanh'),
                'gelu_pytorch_tanh': lambda: nn.GELU(approximate='tanh'), 'relu': lambda: nn.ReLU(),
                'silu': lambda: nn.SiLU(), 'swish': lambda: nn.SiLU(), 'tanh': lambda: nn.Tanh()}


@dataclass
class MedConfig:
    """The BERT settings BLIP's text transformer reads (Hugging Face ``BertConfig`` names and defaults;
    ``encoder_width``: width of the image tokens cross-attended, ``add_type_embeddings``: a token-type
    table (MMPretrain), ``nlvr``: twin cross-attention, ``fusion_layer``: first layer of ``mode='fusion'``)."""
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = 'gelu'
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = 'absolute'
    add_cross_attention: bool = False
    encoder_width: int = 768
    add_type_embeddings: bool = False
    nlvr: bool = False
    fusion_layer: int | None = None
    extra: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, cfg: 'dict | str | Path | MedConfig', owner: str = 'med_config') -> 'MedConfig':
        """From a dict (MMPretrain's configs), a ``med_config.json`` path (Salesforce BLIP) or a MedConfig."""
        if isinstance(cfg, MedConfig):
            return cfg
        if isinstance(cfg, (str, Path)):
            path = Path(cfg)
            if not path.is_file():
                raise ConfigError(f'{owner}: {path} is not a file; give a BERT config dict or the path of a '
                                  f'med_config.json (BLIP ships one as configs/med_config.json).')
            try:
                cfg = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f'{owner}: {path} is not a JSON BERT config ({exc}).') from None
        if not isinstance(cfg, dict):
            raise ConfigError(f'{owner} must be a dict of BERT settings (hidden_size, num_hidden_layers, ...), got '
                              f'{type(cfg).__name__}.')
        names = {f.name for f in fields(cls)} - {'extra'}
        known, extra = {}, {}
        for k, v in cfg.items():
            if k in names:
                known[k] = v
            elif k in _IGNORED_KEYS:
                extra[k] = v
            else:
                raise ConfigError(f'{owner}: unknown BERT setting {k!r}.{did_you_mean(k, names)}')
        out = cls(**known, extra=extra)
        if out.hidden_size % out.num_attention_heads:
            raise ConfigError(f'{owner}: hidden_size={out.hidden_size} is not divisible by '
                              f'num_attention_heads={out.num_attention_heads}.')
        if out.hidden_act not in _ACTIVATIONS:
            raise ConfigError(f'{owner}: hidden_act={out.hidden_act!r} is not supported; one of '
                              f'{", ".join(_ACTIVATIONS)}.')
        if out.position_embedding_type != 'absolute':
            raise ConfigError(f"{owner}: position_embedding_type={out.position_embedding_type!r}: only 'absolute' "
                              f'(every BLIP model) is supported.')
        return out


class KVCache:
    """Keys and values of past tokens for incremental decoding, one entry per layer.

    ``self_kv[i]``: (keys, values) of layer i's self-attention, each (B, heads, L_past, head_dim);
    ``cross_kv[i]``: the keys and values of the image tokens, computed once per generation and reused.
    ``reorder(index)`` selects rows (beam search); cross entries are reordered too unless
    ``cross=False`` (rows that share their image, as the beams of one image do).
    """

    def __init__(self, num_layers: int):
        self.self_kv: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * num_layers
        self.cross_kv: list[Any] = [None] * num_layers

    def __len__(self) -> int:
        first = self.self_kv[0] if self.self_kv else None
        return 0 if first is None else first[0].shape[2]

    def reorder(self, index: torch.Tensor, cross: bool = True) -> 'KVCache':
        def pick(kv):
            if kv is None:
                return None
            if isinstance(kv, list):
                return [pick(x) for x in kv]
            return tuple(t.index_select(0, index) for t in kv)
        self.self_kv = [pick(kv) for kv in self.self_kv]
        if cross:
            self.cross_kv = [pick(kv) for kv in self.cross_kv]
        return self


@dataclass
class XBertOutput:
    """What the text transformer returns; fields also read as ``out['logits']`` (MMPretrain's heads)."""
    last_hidden_state: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    loss: torch.Tensor | None = None
    past_key_values: KVCache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None

    def __getitem__(self, key):
        if isinstance(key, str):
            return getattr(self, key)
        return tuple(v for v in (self.loss, self.logits, self.last_hidden_state) if v is not None)[key]


@MODELS.register_module()
class Linear(nn.Linear):
    """``torch.nn.Linear`` under MMPretrain's registry name (BLIP's ``vision_neck`` / ``text_neck``)."""


class BertEmbeddings(nn.Module):
    def __init__(self, cfg: MedConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        if cfg.add_type_embeddings:
            self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)
        self.register_buffer('position_ids', torch.arange(cfg.max_position_embeddings)[None], persistent=False)

    def forward(self, input_ids=None, inputs_embeds=None, token_type_ids=None, position_ids=None,
                past_length: int = 0) -> torch.Tensor:
        x = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        length = x.shape[1]
        if past_length + length > self.position_embeddings.num_embeddings:
            raise ConfigError(f'XBert: {past_length + length} tokens exceed max_position_embeddings='
                              f'{self.position_embeddings.num_embeddings}.')
        if position_ids is None:
            position_ids = self.position_ids[:, past_length:past_length + length]
        x = x + self.position_embeddings(position_ids)
        if token_type_ids is not None:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, cfg: MedConfig, is_cross_attention: bool):
        super().__init__()
        self.num_heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        kv_width = cfg.encoder_width if is_cross_attention else cfg.hidden_size
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(kv_width, cfg.hidden_size)
        self.value = nn.Linear(kv_width, cfg.hidden_size)
        self.dropout_p = cfg.attention_probs_dropout_prob

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        return x.view(B, L, self.num_heads, self.head_dim).transpose(1, 2)

    def project_kv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._split(self.key(x)), self._split(self.value(x))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, kv: tuple | None = None,
                past: tuple | None = None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Self-attention (``kv=None``; ``past`` keys/values prepended) or attention to given keys/values.
        Returns the context (B, L, hidden) and the keys/values used."""
        q = self._split(self.query(hidden))
        if kv is None:
            k, v = self.project_kv(hidden)
            if past is not None:
                k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
            kv = (k, v)
        out = F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=mask,
                                             dropout_p=self.dropout_p if self.training else 0.0)
        B, _, L, _ = out.shape
        return out.transpose(1, 2).reshape(B, L, -1), kv


class BertSelfOutput(nn.Module):
    def __init__(self, cfg: MedConfig, twin: bool = False, merge: bool = False):
        super().__init__()
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)
        if twin:
            self.dense0 = nn.Linear(cfg.hidden_size, cfg.hidden_size)
            self.dense1 = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        else:
            self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.merge = merge
        if merge:
            self.act = _ACTIVATIONS[cfg.hidden_act]()
            self.merge_layer = nn.Linear(cfg.hidden_size * 2, cfg.hidden_size)

    def forward(self, hidden, residual: torch.Tensor) -> torch.Tensor:
        if isinstance(hidden, list):
            h0, h1 = self.dense0(hidden[0]), self.dense1(hidden[1])
            hidden = self.merge_layer(torch.cat([h0, h1], dim=-1)) if self.merge else (h0 + h1) / 2
        else:
            hidden = self.dense(hidden)
        return self.LayerNorm(self.dropout(hidden) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg: MedConfig, is_cross_attention: bool = False, layer_num: int = -1):
        super().__init__()
        self.twin = is_cross_attention and cfg.nlvr
        if self.twin:
            self.self0 = BertSelfAttention(cfg, True)
            self.self1 = BertSelfAttention(cfg, True)
        else:
            self.self = BertSelfAttention(cfg, is_cross_attention)
        self.output = BertSelfOutput(cfg, twin=self.twin, merge=self.twin and layer_num >= 6)

    def cross_kv(self, encoder_hidden_states):
        if self.twin:
            return [self.self0.project_kv(encoder_hidden_states[0]), self.self1.project_kv(encoder_hidden_states[1])]
        return self.self.project_kv(encoder_hidden_states)

    def forward(self, hidden, mask, kv=None, past=None):
        if self.twin:
            (c0, _), (c1, _) = self.self0(hidden, mask[0], kv[0]), self.self1(hidden, mask[1], kv[1])
            return self.output([c0, c1], hidden), kv
        context, kv = self.self(hidden, mask, kv, past)
        return self.output(context, hidden), kv


class BertIntermediate(nn.Module):
    def __init__(self, cfg: MedConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.intermediate_act_fn = _ACTIVATIONS[cfg.hidden_act]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(x))


class BertOutput(nn.Module):
    def __init__(self, cfg: MedConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertLayer(nn.Module):
    def __init__(self, cfg: MedConfig, layer_num: int):
        super().__init__()
        self.attention = BertAttention(cfg)
        if cfg.add_cross_attention:
            self.crossattention = BertAttention(cfg, is_cross_attention=True, layer_num=layer_num)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertOutput(cfg)

    def forward(self, hidden, mask, encoder_hidden_states=None, encoder_mask=None, cache: KVCache | None = None,
                index: int = 0, cross: bool = False):
        past = cache.self_kv[index] if cache is not None else None
        hidden, kv = self.attention(hidden, mask, past=past)
        if cache is not None:
            cache.self_kv[index] = kv
        if cross:
            if not hasattr(self, 'crossattention'):
                raise ConfigError('XBert: multimodal mode needs cross-attention layers; set '
                                  "med_config['add_cross_attention']=True (or use mode='text').")
            if encoder_hidden_states is None and (cache is None or cache.cross_kv[index] is None):
                raise ConfigError("XBert: mode='multimodal' needs encoder_hidden_states (the image tokens).")
            ckv = cache.cross_kv[index] if cache is not None else None
            if ckv is None:
                ckv = self.crossattention.cross_kv(encoder_hidden_states)
                if cache is not None:
                    cache.cross_kv[index] = ckv
            hidden, _ = self.crossattention(hidden, encoder_mask, kv=ckv)
        return self.output(self.intermediate(hidden), hidden)


class BertEncoder(nn.Module):
    def __init__(self, cfg: MedConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(cfg, i) for i in range(cfg.num_hidden_layers))


def _padding_mask(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """(B, L) 1/0 -> additive (B, 1, 1, L); (B, Lq, L) -> (B, 1, Lq, L); None (or all ones: attention
    then runs without a mask, on the faster kernels) -> None."""
    if mask is None or bool(mask.all()):
        return None
    mask = mask[:, None, None, :] if mask.dim() == 2 else mask[:, None]
    return (1.0 - mask.to(dtype)) * MASK_VALUE


def _encoder_mask(mask, states, dtype):
    if isinstance(states, (list, tuple)):
        masks = mask if mask is not None else [None] * len(states)
        return [_padding_mask(m, dtype) for m in masks]
    return _padding_mask(mask, dtype)


@MODELS.register_module()
class XBertEncoder(BaseModule):
    """BLIP's BERT text encoder with cross-attention to image tokens (MMPretrain's ``XBertEncoder``).

    Args:
        med_config: the BERT settings (:class:`MedConfig`): a dict as MMPretrain's blip configs write it
            or the path of Salesforce BLIP's ``med_config.json``.
        from_pretrained: accepted for MMPretrain's configs; weights come from ``load_weights``/``init_cfg``.
        is_decoder: causal self-attention (the decoder's ``bert``).

    See the module docstring for ``forward``.
    """

    def __init__(self, med_config: dict | str, from_pretrained: bool = False, is_decoder: bool = False,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.config = MedConfig.build(med_config)
        self.is_decoder = is_decoder
        self.embeddings = BertEmbeddings(self.config)
        self.encoder = BertEncoder(self.config)
        _bert_init(self, self.config.initializer_range)

    @property
    def width(self) -> int:
        return self.config.hidden_size

    def _layer_range(self, mode: str) -> range:
        n = self.config.num_hidden_layers
        fusion = self.config.fusion_layer if self.config.fusion_layer is not None else n
        ranges = {'text': range(0, fusion), 'fusion': range(fusion, n), 'multimodal': range(0, n)}
        if mode not in ranges:
            raise ConfigError(f"XBert mode={mode!r} is not one of 'text', 'multimodal', 'fusion'.")
        return ranges[mode]

    def _self_mask(self, attention_mask, batch: int, length: int, past: int, dtype, device, causal: bool):
        if not causal:
            return _padding_mask(attention_mask, dtype)
        if attention_mask is not None and attention_mask.dim() == 3:
            return _padding_mask(attention_mask, dtype)
        if length == 1 and attention_mask is None:
            return None  # one new token attends to everything before it
        q = torch.arange(past, past + length, device=device)[:, None]
        allowed = (torch.arange(past + length, device=device)[None, :] <= q).to(dtype)[None, None]
        if attention_mask is not None:
            allowed = allowed * attention_mask[:, None, None, :].to(dtype)
        return (1.0 - allowed.expand(batch, 1, length, past + length)) * MASK_VALUE

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None, encoder_embeds: torch.Tensor | None = None,
                encoder_hidden_states=None, encoder_attention_mask=None, past_key_values: KVCache | None = None,
                use_cache: bool = False, output_hidden_states: bool = False, mode: str = 'multimodal',
                return_dict: bool = True, is_decoder: bool | None = None, head_mask=None,
                output_attentions: bool = False) -> XBertOutput:
        """See the module docstring. ``return_dict`` is accepted for MMPretrain's callers (the output is always
        an :class:`XBertOutput`); ``is_decoder`` overrides the causal setting for this call."""
        if input_ids is None and inputs_embeds is None and encoder_embeds is None:
            raise ConfigError('XBert needs input_ids, inputs_embeds or encoder_embeds.')
        if head_mask is not None or output_attentions:
            raise ConfigError('XBert: head_mask and output_attentions are not supported (attention runs fused in '
                              'scaled_dot_product_attention).')
        cache = past_key_values
        if cache is None and use_cache:
            cache = KVCache(self.config.num_hidden_layers)
        past = len(cache) if cache is not None else 0
        if encoder_embeds is not None:
            hidden = encoder_embeds
        else:
            hidden = self.embeddings(input_ids, inputs_embeds, token_type_ids, position_ids, past)
        B, L = hidden.shape[:2]
        causal = self.is_decoder if is_decoder is None else is_decoder
        mask = self._self_mask(attention_mask, B, L, past, hidden.dtype, hidden.device, causal)
        enc_mask = _encoder_mask(encoder_attention_mask, encoder_hidden_states, hidden.dtype)
        states = [hidden] if output_hidden_states else None
        cross = mode in ('multimodal', 'fusion')
        for i in self._layer_range(mode):
            hidden = self.encoder.layer[i](hidden, mask, encoder_hidden_states, enc_mask, cache, i, cross)
            if states is not None:
                states.append(hidden)
        return XBertOutput(last_hidden_state=hidden, past_key_values=cache,
                           hidden_states=tuple(states) if states is not None else None)


def _bert_init(module: nn.Module, std: float) -> None:
    """BERT's initialisation: linear and embedding weights N(0, std), biases 0, LayerNorm 1/0."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=std)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                nn.init.zeros_(m.weight[m.padding_idx])
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, cfg: MedConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.transform_act_fn = _ACTIVATIONS[cfg.hidden_act]()
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, cfg: MedConfig):
        super().__init__()
        self.transform = BertPredictionHeadTransform(cfg)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(x))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, cfg: MedConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predictions(x)


@MODELS.register_module()
class XBertLMHeadDecoder(BaseModule):
    """BLIP's image-grounded text decoder: a causal :class:`XBertEncoder` (``bert``) and BERT's LM head
    (``cls``), whose output projection shares the word-embedding matrix (as BLIP's).

    Args:
        med_config: as :class:`XBertEncoder`.
        label_smoothing: of the next-token loss (0.1 in BLIP and MMPretrain).

    See the module docstring for ``forward`` and :meth:`generate`.
    """

    def __init__(self, med_config: dict | str, label_smoothing: float = 0.1, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.bert = XBertEncoder(med_config, is_decoder=True)
        self.config = self.bert.config
        self.med_config = self.config
        self.cls = BertOnlyMLMHead(self.config)
        _bert_init(self.cls, self.config.initializer_range)
        self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight
        self.label_smoothing = label_smoothing

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None,
                encoder_hidden_states=None, encoder_attention_mask=None, labels: torch.Tensor | None = None,
                past_key_values: KVCache | None = None, use_cache: bool = False, output_hidden_states: bool = False,
                return_dict: bool = True, return_logits: bool = False, reduction: str = 'mean',
                mode: str = 'multimodal', is_decoder: bool = True, head_mask=None, output_attentions: bool = False):
        out = self.bert(input_ids, attention_mask=attention_mask, position_ids=position_ids,
                        inputs_embeds=inputs_embeds,
                        encoder_hidden_states=encoder_hidden_states, encoder_attention_mask=encoder_attention_mask,
                        past_key_values=past_key_values, use_cache=use_cache and labels is None,
                        output_hidden_states=output_hidden_states, mode=mode, is_decoder=is_decoder,
                        head_mask=head_mask, output_attentions=output_attentions)
        logits = self.cls(out.last_hidden_state)
        if return_logits:
            return logits[:, :-1].contiguous()
        out.logits = logits
        if labels is not None:
            out.loss = self.lm_loss(logits, labels, reduction)
        return out

    def lm_loss(self, logits: torch.Tensor, labels: torch.Tensor, reduction: str = 'mean') -> torch.Tensor:
        """Next-token cross entropy of ``logits`` (B, L, V) against ``labels`` (B, L) shifted by one
        (``-100`` ignored); ``reduction='none'`` sums each sequence's token losses -> (B,)."""
        if reduction not in ('mean', 'none', 'sum'):
            raise ConfigError(f"XBertLMHeadDecoder reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")
        shifted, targets = logits[:, :-1], labels[:, 1:]
        loss = F.cross_entropy(shifted.reshape(-1, shifted.shape[-1]).float(), targets.reshape(-1),
                               reduction=reduction, label_smoothing=self.label_smoothing, ignore_index=-100)
        return loss.view(labels.shape[0], -1).sum(1) if reduction == 'none' else loss

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, encoder_hidden_states: torch.Tensor,
                 encoder_attention_mask: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        """Token ids (B * num_return_sequences, L) continuing the prompts ``input_ids`` (B, L0), each row
        conditioned on its own row of ``encoder_hidden_states`` (B, N, C) (not repeated per beam: the
        search repeats them once). Keyword arguments: those of
        :func:`fovea.models.multimodal.blip.generation.generate` (``num_beams``, ``max_length``, ``min_length``,
        ``do_sample``, ``top_p``, ``repetition_penalty``, ``eos_token_id``, ``pad_token_id``, ...)."""
        from fovea.models.multimodal.blip.generation import generate
        return generate(self, input_ids, encoder_hidden_states, encoder_attention_mask, **kwargs)


def check_vocab_fits(tokenizer_size: int, vocab_size: int, owner: str) -> None:
    """Refuse a tokenizer whose ids do not fit the text model's embedding table."""
    if tokenizer_size > vocab_size:
        raise ConfigError(f'{owner}: the tokenizer has {tokenizer_size} tokens but med_config.vocab_size is '
                          f'{vocab_size}; BLIP adds [DEC] and [ENC] to BERT\'s 30522, so vocab_size must be at least '
                          f'{tokenizer_size} (30524 for bert-base-uncased).')
