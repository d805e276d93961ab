"""Chinese CLIP's text tower: a BERT encoder (RoBERTa-wwm-ext in BERT's layout: Chinese CLIP's 3-layer RBT3,
RoBERTa-wwm-ext-base and -large), without pooler.

It is BLIP's text encoder (:class:`~fovea.models.multimodal.blip.xbert.XBertEncoder`) run without cross-attention,
under MMPretrain's name ``BertModelCN`` and its argument ``config`` (a Hugging Face ``BertConfig`` dict). The
state-dict names are BERT's (``embeddings.word_embeddings``, ``embeddings.token_type_embeddings``,
``encoder.layer.N.attention.self.query``, ...), those of MMPretrain's ``BertModelCN``, of OFA-Sys' ``bert.`` and of
``transformers``' ``ChineseCLIPTextModel``.
"""
from __future__ import annotations

import torch

from fovea.models.multimodal.blip.xbert import XBertEncoder, XBertOutput
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['BertModelCN']


@MODELS.register_module()
class BertModelCN(XBertEncoder):
    """BERT text encoder for Chinese CLIP (MMPretrain's ``BertModelCN``).

    Args:
        config: BERT settings (``vocab_size``, ``hidden_size``, ``num_hidden_layers``, ``num_attention_heads``,
            ``intermediate_size``, ``max_position_embeddings``, ``type_vocab_size``, ``layer_norm_eps``, ...);
            a token-type table is always built (``add_type_embeddings``), cross-attention never.

    ``forward(input_ids, attention_mask=None, token_type_ids=None, position_ids=None)`` ->
    :class:`XBertOutput`; ``out[0]`` and ``out.last_hidden_state`` are the (B, L, hidden) token states.
    Token types default to 0, as in BERT.
    """

    def __init__(self, config: dict, init_cfg: dict | None = None):
        config = dict(config)
        if config.get('add_cross_attention'):
            raise ConfigError('BertModelCN (model.text_backbone.config): add_cross_attention is not part of Chinese '
                              "CLIP's text tower; leave it out.")
        config['add_type_embeddings'] = True
        super().__init__(config, init_cfg=init_cfg)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                **kwargs) -> XBertOutput:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        kwargs['mode'] = 'text'
        return super().forward(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                               position_ids=position_ids, **kwargs)
