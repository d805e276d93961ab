"""BLIP for NLVR2 (natural language visual reasoning: is a sentence true of a pair of images?).

The sentence is encoded by BERT whose cross-attention is BLIP-NLVR's twin form (``med_config['nlvr']``:
one attention per image, ``self0``/``self1``, merged by ``merge_layer`` from layer 6 on; see
``xbert.py``) and classified from its first token by a two-layer MLP (``head``: true / false).
MMPretrain's names, arguments and state-dict keys (``vision_backbone``, ``multimodal_backbone``,
``head.0``/``head.2``); its NLVR config builds the text model as ``type='BertModel'`` with
``config=...``, registered here.

Inputs are image pairs: a (B, 2, C, H, W) batch or a list of two (B, C, H, W) batches; samples carry
``text`` and, for training, ``gt_label`` (1: the sentence is true). ``predict`` sets ``pred_score``
(the two softmax scores) and ``pred_label``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.multimodal.blip.base import BlipBase
from fovea.models.multimodal.blip.blip_vqa import batch_texts
from fovea.models.multimodal.blip.xbert import XBertEncoder
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError, DataError

__all__ = ['BlipNLVR', 'BertModel']


@MODELS.register_module()
class BertModel(XBertEncoder):
    """MMPretrain's ``BertModel(config, add_pooling_layer)``: :class:`XBertEncoder` built from ``config``
    (BLIP's NLVR config; no pooler: BLIP never uses one)."""

    def __init__(self, config: dict | str, add_pooling_layer: bool = True, init_cfg: dict | None = None):
        if add_pooling_layer:
            raise ConfigError('BertModel: fovea\'s BLIP BERT has no pooling layer (no BLIP model uses it); set '
                              'add_pooling_layer=False, as MMPretrain\'s NLVR config does.')
        super().__init__(config, init_cfg=init_cfg)


def _image_pairs(images, owner: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The first and the second images of the pairs, each (B, C, H, W)."""
    if isinstance(images, (list, tuple)) and len(images) == 2 and all(isinstance(t, torch.Tensor) and t.ndim == 4
                                                                      for t in images):
        if images[0].shape[0] != images[1].shape[0]:
            raise DataError(f'{owner}: {images[0].shape[0]} first images but {images[1].shape[0]} second ones; every '
                            f'sentence needs a pair.')
        return images[0], images[1]
    if isinstance(images, torch.Tensor) and images.ndim == 5 and images.shape[1] == 2:
        return images[:, 0], images[:, 1]
    shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
    raise DataError(f'{owner} needs a pair of images per sentence: a (B, 2, C, H, W) batch or a list of two '
                    f'(B, C, H, W) batches, got {shape}.')


@MODELS.register_module()
class BlipNLVR(BlipBase):
    """BLIP for NLVR2 (MMPretrain's ``BlipNLVR``).

    Args:
        vision_backbone: the image encoder (``VisionTransformer`` with ``out_type='raw'``), run on both images.
        multimodal_backbone: the sentence encoder with twin cross-attention (``BertModel`` / ``XBertEncoder``
            with ``nlvr=True``).
        tokenizer: the BLIP tokenizer (default: bert-base-uncased's vocabulary, found locally).
        max_txt_len: sentences are cut to this many tokens.
    """

    def __init__(self, vision_backbone: dict, multimodal_backbone: dict, tokenizer: dict | None = None,
                 max_txt_len: int = 35, data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        super().__init__(tokenizer, data_preprocessor, init_cfg)
        self.vision_backbone = MODELS.build(vision_backbone, key='vision_backbone')
        self.multimodal_backbone = MODELS.build(multimodal_backbone, key='multimodal_backbone')
        cfg = self.multimodal_backbone.config
        if not cfg.nlvr or not cfg.add_cross_attention:
            raise ConfigError('BlipNLVR: model.multimodal_backbone needs twin cross-attention: set nlvr=True and '
                              'add_cross_attention=True in its config.')
        self.max_txt_len = max_txt_len
        hidden = cfg.hidden_size
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def text_vocab_size(self) -> int:
        return self.multimodal_backbone.config.vocab_size

    def _logits(self, images, data_samples) -> torch.Tensor:
        if images is None:
            raise DataError('BlipNLVR got sentences but no images: every sentence needs its pair of images.')
        first, second = _image_pairs(images, 'BlipNLVR')
        n = first.shape[0]
        texts = batch_texts(self, data_samples, 'text', n)
        if first.shape == second.shape:       # one pass for both images (MMPretrain's)
            embeds = self.vision_backbone(torch.cat([first, second]))[0]
            embeds = [embeds[:n], embeds[n:]]
        else:
            embeds = [self.vision_backbone(first)[0], self.vision_backbone(second)[0]]
        text = self.tokenize(texts, embeds[0].device, max_length=self.max_txt_len)
        states = self.multimodal_backbone(text.input_ids, attention_mask=text.attention_mask, encoder_hidden_states=embeds,
                                          encoder_attention_mask=[self.image_atts(e) for e in embeds]).last_hidden_state
        return self.head(states[:, 0])

    def loss(self, inputs, data_samples=None) -> dict[str, torch.Tensor]:
        logits = self._logits(inputs, data_samples)
        bad = [i for i, s in enumerate(data_samples) if s.get('gt_label') is None]
        if bad:
            raise DataError(f'BlipNLVR training: sample(s) {bad[:5]} of the batch have no gt_label (1 if the sentence '
                            f'is true of the image pair, else 0).')
        targets = torch.cat([torch.as_tensor(s.gt_label).reshape(-1)[:1] for s in data_samples]).to(logits.device)
        return {'loss': F.cross_entropy(logits, targets.long())}

    @torch.no_grad()
    def predict(self, inputs, data_samples=None) -> list[DataSample]:
        scores = F.softmax(self._logits(inputs, data_samples), dim=1)
        for score, sample in zip(scores, data_samples):
            sample.set_pred_score(score).set_pred_label(score.argmax(dim=0, keepdim=True))
        return list(data_samples)

    def _forward(self, inputs, data_samples=None) -> torch.Tensor:
        """(B, 2) logits (false, true)."""
        return self._logits(inputs, data_samples)
