"""BLIP's heads (MMPretrain's names and arguments): :class:`SeqGenerationHead` (a text decoder trained on
next-token prediction, generating captions), :class:`ITCHead` (image-text contrastive loss against
queues of momentum features, with momentum distillation) and :class:`ITMHead` (image-text matching,
a two-way classifier on the multimodal [ENC] token).

The ITC queues are buffers (``image_queue``, ``text_queue``, ``idx_queue``, ``queue_ptr``, MMPretrain's
names) and change only in :meth:`ITCHead.push_pending`, which the model calls from
``after_optimizer_step``: a step's momentum features (every rank's) enter the queues after the weight
update, never inside the forward (docs/architecture.md, "Training step").
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.selfsup.moco import push_keys
from fovea.registry import MODELS
from fovea.utils.dist import concat_all_gather
from fovea.utils.errors import ConfigError, DataError

__all__ = ['SeqGenerationHead', 'ITCHead', 'ITMHead']


@MODELS.register_module()
class SeqGenerationHead(BaseModule):
    """A text decoder (``XBertLMHeadDecoder``) as a captioning head.

    Args:
        decoder: the decoder config.
        ignore_index: label of tokens without loss (padding, the prompt).
        loss: the token loss (MMPretrain: ``LabelSmoothLoss`` with ``label_smooth_val=0.1``).
    """

    def __init__(self, decoder: dict, ignore_index: int = -100,
                 loss: dict = dict(type='LabelSmoothLoss', label_smooth_val=0.1), init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.decoder = MODELS.build(decoder, key='decoder')
        self.loss_fn = MODELS.build(loss, key='loss')
        self.ignore_index = ignore_index

    def forward(self, input_ids, encoder_hidden_states, encoder_attention_mask=None, labels=None):
        return self.decoder(input_ids=input_ids, encoder_hidden_states=encoder_hidden_states,
                            encoder_attention_mask=encoder_attention_mask)

    def loss(self, input_ids: torch.Tensor, encoder_hidden_states: torch.Tensor,
             encoder_attention_mask: torch.Tensor | None, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{'seq_gen_lm_loss'}``: next-token loss of ``labels`` (B, L) (``ignore_index`` skipped), averaged
        over the tokens that count."""
        logits = self(input_ids, encoder_hidden_states, encoder_attention_mask)['logits']
        scores = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
        targets = labels[:, 1:].reshape(-1)
        keep = targets != self.ignore_index
        loss = self.loss_fn(scores, targets.masked_fill(~keep, 0), weight=keep.float(),
                            avg_factor=max(int(keep.sum()), 1))
        return {'seq_gen_lm_loss': loss}

    @torch.no_grad()
    def predict(self, input_ids: torch.Tensor, encoder_hidden_states: torch.Tensor, sep_token_id: int,
                pad_token_id: int, use_nucleus_sampling: bool = False, num_beams: int = 3, max_length: int = 20,
                min_length: int = 2, top_p: float = 0.9, repetition_penalty: float = 1.0,
                **kwargs) -> torch.Tensor:
        """Generated ids (B, L) after the prompt ``input_ids``: beam search (MMPretrain's defaults: 3 beams,
        2-20 tokens) or, with ``use_nucleus_sampling``, nucleus sampling (``top_p``, repetition penalty 1.1 as
        BLIP). ``encoder_hidden_states`` has one row per prompt; other keyword arguments go to
        :func:`~fovea.models.multimodal.blip.generation.generate`."""
        for unused in ('output_attentions', 'return_dict_in_generate', 'output_scores'):
            kwargs.pop(unused, None)
        if use_nucleus_sampling:
            kwargs.update(do_sample=True, top_p=top_p, num_beams=1, repetition_penalty=1.1)
        else:
            kwargs.update(num_beams=num_beams, repetition_penalty=repetition_penalty)
        return self.decoder.generate(input_ids, encoder_hidden_states, kwargs.pop('encoder_attention_mask', None),
                                     eos_token_id=sep_token_id, pad_token_id=pad_token_id, max_length=max_length,
                                     min_length=min_length, **kwargs)


def _image_ids(data_samples: Sequence, device) -> torch.Tensor:
    try:
        ids = [int(s.image_id) for s in data_samples]
    except (AttributeError, KeyError, TypeError, ValueError):
        raise DataError('BLIP image-text contrastive training needs every DataSample\'s image_id (captions of one '
                        'image are positives of each other); COCORetrieval / Flickr30kRetrieval provide it, or pack '
                        "it with PackInputs(meta_keys=['image_id']).") from None
    return torch.tensor(ids, device=device).view(-1, 1)


@MODELS.register_module()
class ITCHead(BaseModule):
    """Image-text contrastive loss of BLIP (and ALBEF) with momentum distillation.

    Args:
        embed_dim: width of the (normalised) features and queues.
        queue_size: features kept per modality (57,600; a multiple of the global batch).
        temperature: initial ``temp`` (the model replaces it with its own learnable one).
        use_distill: mix the momentum model's similarities into the targets (weight ``alpha``).
        alpha: that weight (MMPretrain's ``WarmupParamHook`` warms it up).

    ``loss(([img, text, img_m, text_m],), data_samples)`` -> ``{'itc_loss'}``; the samples' ``image_id`` say
    which captions belong to one image (all are positives).
    """

    def __init__(self, embed_dim: int, queue_size: int = 57600, temperature: float = 0.07, use_distill: bool = True,
                 alpha: float = 0.4, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.temp = nn.Parameter(temperature * torch.ones([]))
        self.use_distill = use_distill
        self.queue_size = queue_size
        self.alpha = alpha
        self.register_buffer('image_queue', F.normalize(torch.randn(embed_dim, queue_size), dim=0))
        self.register_buffer('text_queue', F.normalize(torch.randn(embed_dim, queue_size), dim=0))
        self.register_buffer('idx_queue', torch.full((1, queue_size), -100))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))
        self._pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def forward(self, feats):
        return feats[-1]

    def loss(self, feats, data_samples, **kwargs) -> dict[str, torch.Tensor]:
        img, text, img_m, text_m = self(feats)
        idx = _image_ids(data_samples, img.device)
        img_all = torch.cat([img_m.t(), self.image_queue.clone().detach()], dim=1)
        text_all = torch.cat([text_m.t(), self.text_queue.clone().detach()], dim=1)
        idx_all = torch.cat([idx.t(), self.idx_queue.clone().detach()], dim=1)
        pos = torch.eq(idx, idx_all).float()
        targets = pos / pos.sum(1, keepdim=True)
        sim_i2t = img @ text_all / self.temp
        sim_t2i = text @ img_all / self.temp
        t_i2t = t_t2i = targets
        if self.use_distill:
            with torch.no_grad():
                t_i2t = self.alpha * F.softmax(img_m @ text_all / self.temp, dim=1) + (1 - self.alpha) * targets
                t_t2i = self.alpha * F.softmax(text_m @ img_all / self.temp, dim=1) + (1 - self.alpha) * targets
        loss_i2t = -(F.log_softmax(sim_i2t, dim=1) * t_i2t).sum(1).mean()
        loss_t2i = -(F.log_softmax(sim_t2i, dim=1) * t_t2i).sum(1).mean()
        self._pending.append((concat_all_gather(img_m.detach()), concat_all_gather(text_m.detach()),
                              concat_all_gather(idx)))
        return {'itc_loss': (loss_i2t + loss_t2i) / 2}

    @torch.no_grad()
    def push_pending(self) -> None:
        """Put the momentum features of the losses computed since the last call into the queues."""
        for img, text, idx in self._pending:
            if self.queue_size % len(img):
                raise ConfigError(f'ITCHead queue_size={self.queue_size} must be a multiple of the global batch '
                                  f'({len(img)} samples per step: batch_size x processes).')
        ptr = self.queue_ptr.clone()
        push_keys(self.image_queue, self.queue_ptr, [p[0] for p in self._pending])
        push_keys(self.text_queue, ptr.clone(), [p[1] for p in self._pending])
        push_keys(self.idx_queue, ptr, [p[2] for p in self._pending])
        self._pending.clear()


class Pooler(nn.Module):
    """``tanh(dense(x[:, 0]))`` (BERT's pooler)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.activation = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(x[:, 0]))


@MODELS.register_module()
class ITMHead(BaseModule):
    """Image-text matching: a linear 2-way classifier (``fc``; class 1 = matched) on the multimodal feature.

    Args:
        hidden_size: width of the multimodal features.
        with_pooler: BERT's pooler first (``pooler.dense``); BLIP's retrieval uses the [ENC] token as it is.
        loss: the classification loss.
        cal_acc: also report ``itm_accuracy``.

    ``loss((feats,), data_samples)`` reads each sample's ``is_matched``.
    """

    def __init__(self, hidden_size: int, with_pooler: bool = True,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0), cal_acc: bool = False,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.hidden_size = hidden_size
        self.pooler = Pooler(hidden_size) if with_pooler else nn.Identity()
        self.fc = nn.Linear(hidden_size, 2)
        self.loss_module = MODELS.build(loss, key='loss')
        self.cal_acc = cal_acc

    def forward(self, feats) -> torch.Tensor:
        return self.fc(self.pooler(feats[-1]))

    def loss(self, feats, data_samples, **kwargs) -> dict[str, torch.Tensor]:
        logits = self(feats)
        if logits.ndim == 3:
            logits = logits.mean(dim=1)
        try:
            target = torch.tensor([bool(s.is_matched) for s in data_samples], device=logits.device).long()
        except (AttributeError, KeyError):
            raise DataError('ITMHead needs every DataSample\'s is_matched (True for an image with its own text).') \
                from None
        losses = {'itm_loss': self.loss_module(logits, target, avg_factor=logits.size(0), **kwargs)}
        if self.cal_acc:
            losses['itm_accuracy'] = (logits.argmax(1) == target).float().mean() * 100
        return losses
