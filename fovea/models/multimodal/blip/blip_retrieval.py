"""BLIP image-text retrieval (Li et al., ICML 2022): image-text contrastive learning (ITC) between a ViT
and the unimodal BERT text encoder, with momentum encoders and feature queues (momentum distillation),
and image-text matching (ITM) by the image-grounded encoder on hard negatives drawn from the ITC
similarities. Retrieval ranks by ITC similarity and re-scores the ``topk`` best by ITM.

MMPretrain's ``BlipRetrieval`` (arguments; state-dict names ``vision_backbone``, ``text_backbone``,
``vision_neck``, ``text_neck``, ``head`` (ITC queues), ``multimodal_head`` (ITM), ``temp`` and the momentum
copies ``*_m``), so its configs and checkpoints work unchanged; Salesforce BLIP and ``transformers``
``BlipForImageTextRetrieval`` checkpoints are translated by ``fovea/convert/blip.py``.

Training side effects follow fovea's contract: the momentum encoders are averaged
(``m * momentum + (1 - momentum) * online``, Salesforce BLIP's rule for every weight), ``temp`` is clamped to
[0.001, 0.5] (Salesforce BLIP) and the step's momentum features enter the queues in
``after_optimizer_step``, after the weights changed, on every rank alike.
"""
from __future__ import annotations

import logging
import re
from copy import deepcopy
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.data.text.bert_tokenizer import TokenizedText
from fovea.models.multimodal.blip.base import BlipBase
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.dist import all_gather_with_grad, concat_all_gather, get_dist_info
from fovea.utils.errors import ConfigError

__all__ = ['BlipRetrieval']

logger = logging.getLogger('fovea')


def _gather_ragged(t: torch.Tensor) -> torch.Tensor:
    """Every rank's rows (rank order) where ranks may hold different numbers of rows (evaluation)."""
    if get_dist_info()[1] == 1:
        return t
    sizes = concat_all_gather(torch.tensor([t.shape[0]], device=t.device))
    most = int(sizes.max())
    padded = torch.cat([t, t.new_zeros(most - t.shape[0], *t.shape[1:])]) if most > t.shape[0] else t
    rows = concat_all_gather(padded).view(len(sizes), most, *t.shape[1:])
    return torch.cat([rows[i, :int(n)] for i, n in enumerate(sizes)])


@MODELS.register_module()
class BlipRetrieval(BlipBase):
    """BLIP retriever (ITC + ITM).

    Args:
        vision_backbone: ViT with ``out_type='raw'``.
        text_backbone: ``XBertEncoder`` (with cross-attention: the same encoder is unimodal in ``mode='text'``
            and image-grounded in ``mode='multimodal'``).
        multimodal_backbone: unused by BLIP (MMPretrain's argument, built when given).
        vision_neck / text_neck: projections of the [CLS] features to the ITC space (``Linear``).
        head: ``ITCHead``; multimodal_head: ``ITMHead``.
        tokenizer: ``dict(type='BlipTokenizer', ...)``.
        momentum: weight of the momentum copy's old value in each update (0.995).
        negative_all_rank: draw ITM hard negatives from every rank's batch.
        temperature: initial ITC temperature (learned, ``temp``).
        fast_match: rank by ITC similarity alone (no ITM re-scoring).
        topk: candidates re-scored by ITM per query.
        max_txt_len: tokens per text (padded to it, as MMPretrain).

    ``loss(images, data_samples)``: each sample's ``text`` and ``image_id`` -> ``{'itc_loss', 'itm_loss'}``.
    ``predict(images, data_samples)`` -> ``(i2t, t2i)`` lists of DataSamples whose ``pred_score`` rank the
    batch's texts / images; evaluation over a whole set uses :meth:`extract_feat` and :meth:`predict_all`.
    :meth:`itm_score` and :meth:`itc_score` score given image-text pairs.
    """

    def __init__(self, vision_backbone: dict, text_backbone: dict, multimodal_backbone: dict | None = None,
                 vision_neck: dict | None = None, text_neck: dict | None = None, head: dict | None = None,
                 multimodal_head: dict | None = None, tokenizer: dict | None = None, momentum: float = .995,
                 negative_all_rank: bool = True, temperature: float = 0.07, fast_match: bool = False, topk: int = 256,
                 max_txt_len: int = 20, data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        super().__init__(tokenizer, data_preprocessor, init_cfg)
        self.vision_backbone = MODELS.build(vision_backbone, key='vision_backbone')
        self.text_backbone = MODELS.build(text_backbone, key='text_backbone')
        if multimodal_backbone is not None:
            self.multimodal_backbone = MODELS.build(multimodal_backbone, key='multimodal_backbone')
        if vision_neck is None or text_neck is None or head is None or multimodal_head is None:
            raise ConfigError('BlipRetrieval needs vision_neck, text_neck (the ITC projections), head (ITCHead) and '
                              'multimodal_head (ITMHead).')
        self.vision_neck = MODELS.build(vision_neck, key='vision_neck')
        self.text_neck = MODELS.build(text_neck, key='text_neck')
        self.head = MODELS.build(head, key='head')
        self.multimodal_head = MODELS.build(multimodal_head, key='multimodal_head')
        self.momentum = momentum
        self.negative_all_rank = negative_all_rank
        self.temp = nn.Parameter(temperature * torch.ones([]))
        self.head.temp = self.temp
        self.vision_backbone_m = deepcopy(self.vision_backbone)
        self.text_backbone_m = deepcopy(self.text_backbone)
        self.vision_neck_m = deepcopy(self.vision_neck)
        self.text_neck_m = deepcopy(self.text_neck)
        self.copy_params()
        self.fast_match = fast_match
        self.topk = topk
        self.max_txt_len = max_txt_len

    # ------------------------------------------------------------------ momentum encoders
    def _model_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.vision_backbone, self.vision_backbone_m), (self.text_backbone, self.text_backbone_m),
                (self.vision_neck, self.vision_neck_m), (self.text_neck, self.text_neck_m)]

    @torch.no_grad()
    def copy_params(self) -> None:
        """Momentum copies := online weights, excluded from gradients."""
        for online, m in self._model_pairs():
            for p, pm in zip(online.parameters(), m.parameters()):
                pm.data.copy_(p.data)
                pm.requires_grad_(False)

    def init_weights(self) -> None:
        super().init_weights()
        self.copy_params()

    @torch.no_grad()
    def after_optimizer_step(self, step: int, max_steps: int | None = None) -> None:
        for online, m in self._model_pairs():
            for p, pm in zip(online.parameters(), m.parameters()):
                pm.mul_(self.momentum).add_(p.detach(), alpha=1 - self.momentum)
        self.temp.clamp_(0.001, 0.5)
        self.head.push_pending()

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        """Weights without momentum copies or queues (inference checkpoints, converted ones): the copies
        start as the online weights and the queues and ``temp`` keep this model's values."""
        keys = [k[len(prefix):] for k in state_dict if k.startswith(prefix)]
        if not any(k.startswith(('vision_backbone.', 'text_backbone.')) for k in keys):
            return
        filled = 0
        for k, v in self.state_dict().items():
            if prefix + k in state_dict:
                continue
            online = re.sub(r'^(vision_backbone|text_backbone|vision_neck|text_neck)_m\.', r'\1.', k)
            if online != k and prefix + online in state_dict:
                state_dict[prefix + k] = state_dict[prefix + online].clone()
                filled += 1
            elif k in ('temp', 'head.temp', 'head.image_queue', 'head.text_queue', 'head.idx_queue', 'head.queue_ptr'):
                source = state_dict.get(prefix + 'temp') if k == 'head.temp' else None
                state_dict[prefix + k] = (source if source is not None else v).clone()
                filled += 1
        if filled:
            logger.info('BlipRetrieval: %d momentum/queue tensors not in the checkpoint start from the online '
                        'weights and this model\'s queues.', filled)

    def train(self, mode: bool = True) -> 'BlipRetrieval':
        super().train(mode)
        for _, m in self._model_pairs():
            m.train(mode)
        return self

    def text_vocab_size(self) -> int:
        return self.text_backbone.config.vocab_size

    # ------------------------------------------------------------------ features
    def _image(self, images, backbone, neck):
        embeds = backbone(images)[0]
        return embeds, F.normalize(neck(embeds[:, 0]), dim=-1)

    def _text(self, text, backbone, neck):
        embeds = backbone(text.input_ids, attention_mask=text.attention_mask, mode='text').last_hidden_state
        return embeds, F.normalize(neck(embeds[:, 0]), dim=-1)

    def _tokenize(self, texts: Sequence[str], device):
        return self.tokenize(texts, device, padding='max_length', truncation=True, max_length=self.max_txt_len)

    def extract_feat(self, images: torch.Tensor | None = None, data_samples=None, return_texts: bool = True,
                     return_embeds: bool | None = None) -> dict[str, torch.Tensor]:
        """``image_feat`` (B, D) / ``text_feat`` (T, D) normalised ITC features, ``image_embeds`` /
        ``text_embeds`` the tokens (unless ``fast_match``), ``text_ids`` / ``text_attn_mask``."""
        texts = self.texts_of(data_samples, 'text', 'BlipRetrieval') if data_samples is not None \
            and any(s is not None and 'text' in s for s in data_samples) else None
        if images is None and texts is None:
            raise ConfigError('BlipRetrieval.extract_feat needs images, texts (DataSamples with text), or both.')
        return_embeds = not self.fast_match if return_embeds is None else return_embeds
        out: dict[str, torch.Tensor] = {}
        if images is not None:
            embeds, out['image_feat'] = self._image(images, self.vision_backbone, self.vision_neck)
            if return_embeds:
                out['image_embeds'] = embeds
        if texts is not None:
            text = self._tokenize(texts, self.temp.device)
            if return_texts:
                out.update(text_ids=text.input_ids, text_attn_mask=text.attention_mask)
            embeds, out['text_feat'] = self._text(text, self.text_backbone, self.text_neck)
            if return_embeds:
                out['text_embeds'] = embeds
        return out

    def _itm_logits(self, text_ids, text_atts, image_embeds) -> torch.Tensor:
        ids = text_ids.clone()
        ids[:, 0] = self.tokenizer.enc_token_id
        out = self.text_backbone(ids, attention_mask=text_atts, encoder_hidden_states=image_embeds,
                                 encoder_attention_mask=self.image_atts(image_embeds))
        return self.multimodal_head((out.last_hidden_state[:, 0],))

    @torch.no_grad()
    def itm_score(self, images: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        """P(match) of each image with its text (B,), by the image-grounded encoder and the ITM head."""
        embeds = self.vision_backbone(images)[0]
        text = self._tokenize(texts, embeds.device)
        return self._itm_logits(text.input_ids, text.attention_mask, embeds).softmax(-1)[:, 1]

    @torch.no_grad()
    def itc_score(self, images: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        """Cosine similarity (B, T) of the images' and texts' ITC features."""
        _, img = self._image(images, self.vision_backbone, self.vision_neck)
        _, txt = self._text(self._tokenize(texts, img.device), self.text_backbone, self.text_neck)
        return img @ txt.t()

    # ------------------------------------------------------------------ training
    def loss(self, images: torch.Tensor, data_samples) -> dict[str, torch.Tensor]:
        feats = self.extract_feat(images, data_samples, return_embeds=True)
        text_ids, text_atts = feats['text_ids'], feats['text_attn_mask']
        image_embeds, image_feat, text_feat = feats['image_embeds'], feats['image_feat'], feats['text_feat']
        if text_ids.shape[0] != image_embeds.shape[0]:
            raise ConfigError(f'BlipRetrieval training needs one text per image, got {text_ids.shape[0]} texts for '
                              f'{image_embeds.shape[0]} images.')
        with torch.no_grad():
            _, image_feat_m = self._image(images, self.vision_backbone_m, self.vision_neck_m)
            text = TokenizedText(text_ids, text_atts)
            _, text_feat_m = self._text(text, self.text_backbone_m, self.text_neck_m)
        losses = self.head.loss(([image_feat, text_feat, image_feat_m, text_feat_m],), data_samples)

        # ITM: positives, and for each image a hard negative text and for each text a hard negative image
        bs = image_embeds.shape[0]
        idx = torch.tensor([int(s.image_id) for s in data_samples], device=image_embeds.device).view(-1, 1)
        if self.negative_all_rank:
            idx_world = concat_all_gather(idx)
            image_feat_world, text_feat_world = concat_all_gather(image_feat), concat_all_gather(text_feat)
            image_embeds_world = all_gather_with_grad(image_embeds)
            ids_world, atts_world = concat_all_gather(text_ids), concat_all_gather(text_atts)
        else:
            idx_world, image_feat_world, text_feat_world = idx, image_feat, text_feat
            image_embeds_world, ids_world, atts_world = image_embeds, text_ids, text_atts
        with torch.no_grad():
            same = torch.eq(idx, idx_world.t())
            w_i2t = F.softmax(image_feat @ text_feat_world.t() / self.temp, dim=1).masked_fill(same, 0)
            w_t2i = F.softmax(text_feat @ image_feat_world.t() / self.temp, dim=1).masked_fill(same, 0)
            # a batch where every sample shows one image has no negative: fall back to uniform weights
            w_i2t = torch.where(w_i2t.sum(1, keepdim=True) > 0, w_i2t, (~same).float() + 1e-12)
            w_t2i = torch.where(w_t2i.sum(1, keepdim=True) > 0, w_t2i, (~same).float() + 1e-12)
            neg_img = torch.multinomial(w_t2i, 1).squeeze(1)
            neg_txt = torch.multinomial(w_i2t, 1).squeeze(1)
        ids_all = torch.cat([text_ids, ids_world[neg_txt], text_ids], dim=0)
        atts_all = torch.cat([text_atts, atts_world[neg_txt], text_atts], dim=0)
        images_all = torch.cat([image_embeds, image_embeds, image_embeds_world[neg_img]], dim=0)
        ids_all = ids_all.clone()
        ids_all[:, 0] = self.tokenizer.enc_token_id
        out = self.text_backbone(ids_all, attention_mask=atts_all, encoder_hidden_states=images_all,
                                 encoder_attention_mask=self.image_atts(images_all))
        matched = [DataSample(is_matched=True) for _ in range(bs)] + [DataSample(is_matched=False)
                                                                      for _ in range(2 * bs)]
        losses.update(self.multimodal_head.loss((out.last_hidden_state[:, 0],), matched))
        return losses

    # ------------------------------------------------------------------ retrieval
    @torch.no_grad()
    def predict(self, images: torch.Tensor, data_samples=None, cal_i2t: bool = True, cal_t2i: bool = True):
        return self.predict_all(self.extract_feat(images, data_samples), data_samples, cal_i2t=cal_i2t,
                                cal_t2i=cal_t2i)

    @torch.no_grad()
    def predict_all(self, feats: dict, data_samples, num_images: int | None = None, num_texts: int | None = None,
                    cal_i2t: bool = True, cal_t2i: bool = True) -> tuple:
        """Scores of this rank's images against every rank's texts (i2t) and of this rank's texts against
        every rank's images (t2i); MMPretrain's method."""
        image_feat, text_feat = feats['image_feat'], feats['text_feat']
        num_images = num_images or image_feat.size(0)
        num_texts = num_texts or text_feat.size(0)
        image_embeds = feats.get('image_embeds')
        image_embeds_all = _gather_ragged(image_embeds)[:num_images] if not self.fast_match else None
        image_feat_all = _gather_ragged(image_feat)[:num_images]
        text_feat_all = _gather_ragged(text_feat)[:num_texts]
        text_ids_all = _gather_ragged(feats['text_ids'])[:num_texts]
        atts_all = _gather_ragged(feats['text_attn_mask'])[:num_texts]
        results = []
        if cal_i2t:
            scores = self.compute_score_matrix_i2t(image_feat, image_embeds, text_feat_all, text_ids_all, atts_all)
            results.append(self._get_predictions(scores, data_samples, 'i2t'))
        if cal_t2i:
            scores = self.compute_score_matrix_t2i(image_feat_all, image_embeds_all, text_feat, feats['text_ids'],
                                                   feats['text_attn_mask'])
            results.append(self._get_predictions(scores, data_samples, 't2i'))
        return tuple(results)

    def compute_score_matrix_i2t(self, img_feats, img_embeds, text_feats, text_ids, text_atts) -> torch.Tensor:
        """(M, N): ITC similarity, the ``topk`` best texts of each image re-scored by ITM + similarity
        (-100 elsewhere)."""
        return self._rescore(img_feats @ text_feats.t(), lambda i, top: (
            text_ids[top], text_atts[top], img_embeds[i:i + 1].expand(len(top), -1, -1)))

    def compute_score_matrix_t2i(self, img_feats, img_embeds, text_feats, text_ids, text_atts) -> torch.Tensor:
        """(N, M): as :meth:`compute_score_matrix_i2t` from each text's side."""
        return self._rescore(text_feats @ img_feats.t(), lambda i, top: (
            text_ids[i:i + 1].expand(len(top), -1), text_atts[i:i + 1].expand(len(top), -1), img_embeds[top]))

    def _rescore(self, sims: torch.Tensor, pairs) -> torch.Tensor:
        """Each row's ``topk`` candidates scored by ITM(``pairs(row, candidates)``) + similarity."""
        if self.fast_match:
            return sims
        k = min(self.topk, sims.size(1))
        scores = torch.full_like(sims, -100.0)
        for i in range(sims.size(0)):
            top_sim, top_idx = sims[i].topk(k)
            scores[i, top_idx] = self._itm_logits(*pairs(i, top_idx))[:, 1] + top_sim
        return scores

    def _get_predictions(self, result: torch.Tensor, data_samples, mode: str) -> list[DataSample]:
        if data_samples is None:
            samples = [DataSample() for _ in range(result.size(0))]
        elif mode == 't2i':
            samples = []
            for sample in data_samples:
                texts = sample.text if isinstance(sample.text, (list, tuple)) else [sample.text]
                for i, text in enumerate(texts):
                    new = DataSample(text=text)
                    if 'gt_image_id' in sample:
                        new.gt_label = sample.gt_image_id[i]
                    samples.append(new)
        else:
            samples = list(data_samples)
            for sample in samples:
                if 'gt_text_id' in sample:
                    sample.gt_label = sample.gt_text_id
        for sample, score in zip(samples, result):
            sample.set_pred_score(score)
            sample.set_pred_label(score.argmax(keepdim=True))
        return samples

    def _forward(self, images: torch.Tensor, data_samples=None):
        return self.extract_feat(images, data_samples)

    def generate(self, *args, **kwargs):
        raise self._unsupported('generate text', 'it has no text decoder. Captions come from BlipCaption '
                                '(blip-base_8xb32_caption.py) and answers from BlipVQA')
