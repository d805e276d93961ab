"""BLIP visual grounding (MMPretrain's RefCOCO model): the box of the object a sentence describes is
decoded as four tokens by BLIP's text decoder.

The sentence is encoded by a text encoder (``mode='text'``) and fused with the image by a multimodal
encoder; the decoder cross-attends to the image tokens and the fused text side by side and, after a
prefix token, emits the box's centre x, centre y, width and height, each one of 641 bins of
``[0, 1]`` (BERT's unused tokens ``[unused340]`` ... ``[unused980]``; the prefix is ``[unused339]``).
MMPretrain's names, arguments and state-dict keys (``visual_encoder``, ``text_encoder``,
``multimodal_encoder``, ``grounding_head.decoder``, the ``prefix_ids``/``target_ids``/``bbox_prob_mask``
buffers).

Samples carry ``text`` and, for training, ``gt_bboxes`` (x1, y1, x2, y2 in pixels of the input image;
the first box is the target; resizing transforms scale them with the image, as MMPretrain's). ``predict``
sets ``pred_bboxes`` (1, 4) in pixels of the original image and brings ``gt_bboxes`` there too (both divided
by the sample's ``scale_factor``), so the metric compares them in the original image.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.ops import box_convert, generalized_box_iou

from fovea.data.text.bert_tokenizer import build_blip_tokenizer
from fovea.models.base import BaseModule
from fovea.models.multimodal.blip.base import BlipBase
from fovea.models.multimodal.blip.blip_vqa import batch_texts, blip_image_tokens
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError, DataError

__all__ = ['BlipGrounding', 'GroundingHead']

#: box coordinates are quantised to 1 / IMAGE_RES (MMPretrain's image_res)
IMAGE_RES = 640
PREFIX_TOKEN = '[unused339]'
FIRST_BIN = 340


def _bert_unused_id(n: int) -> int:
    """The id of ``[unused<n>]`` in bert-base-uncased's vocabulary (BLIP's): lines 1-99 and 104-998."""
    return n + 1 if n < 99 else n + 5


def _vocab_ids(tokenizer, tokens: list[str], owner: str) -> list[int]:
    """Ids of vocabulary tokens (a BERT token's id is its line in ``vocab.txt``)."""
    lines = Path(tokenizer.vocab_file).read_text(encoding='utf-8').splitlines()
    vocab = {line.strip(): i for i, line in enumerate(lines)}
    missing = [t for t in tokens if t not in vocab]
    if missing:
        raise ConfigError(f'{owner}: the tokenizer vocabulary {tokenizer.vocab_file} lacks {len(missing)} of the tokens '
                          f'the box is written in ({missing[0]}, ...: BERT\'s {PREFIX_TOKEN} and [unused{FIRST_BIN}].. '
                          f'[unused{FIRST_BIN + IMAGE_RES}]); use bert-base-uncased\'s vocab.txt, which has them.')
    ids = [vocab[t] for t in tokens]
    if ids[1:] != list(range(ids[1], ids[1] + len(ids) - 1)):
        raise ConfigError(f'{owner}: the box tokens [unused{FIRST_BIN}]..[unused{FIRST_BIN + IMAGE_RES}] of '
                          f'{tokenizer.vocab_file} are not on consecutive lines; use bert-base-uncased\'s vocab.txt.')
    return ids


@MODELS.register_module()
class GroundingHead(BaseModule):
    """Box decoding head of BLIP grounding (MMPretrain's ``GroundingHead``).

    Args:
        decoder: the text decoder (``XBertLMHeadDecoder``).
        tokenizer: the BLIP tokenizer config, whose vocabulary has BERT's unused tokens (default: the
            model's, bound by :class:`BlipGrounding` on first use).
        box_l1_loss_coeff / box_giou_loss_coeff: the token loss of each box is weighted by the L1 error of
            the predicted coordinates (clamped to 5) times ``box_l1_loss_coeff`` and by (1 - GIoU) times
            ``box_giou_loss_coeff``.

    The box tokens' ids (buffers ``prefix_ids``, ``target_ids``, ``bbox_prob_mask``, MMPretrain's) are
    bert-base-uncased's until a tokenizer is bound (:meth:`bind_tokenizer`), so configs build without the
    vocabulary at hand. ``loss`` returns ``loss_seq`` (the weighted token loss, weights detached) and
    ``loss_seq_init`` (the plain token cross entropy), both of which train, plus ``box_l1`` / ``box_giou``
    for logging. MMPretrain computes its weighted loss under ``no_grad`` with an (N, N, 4) broadcast, so
    there only the plain cross entropy trains; fovea weights each box by its own errors and lets the
    weighted term train too.
    """

    def __init__(self, decoder: dict | None = None, tokenizer: dict | None = None, box_l1_loss_coeff: float = 4.0,
                 box_giou_loss_coeff: float = 2.0, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if decoder is None:
            raise ConfigError('GroundingHead needs a decoder (dict(type=\'XBertLMHeadDecoder\', med_config=...)).')
        self.decoder = MODELS.build(decoder, key='decoder')
        self._tokenizer_cfg = tokenizer
        self._bound = False
        self.box_l1_loss_coeff, self.box_giou_loss_coeff = box_l1_loss_coeff, box_giou_loss_coeff
        self.image_res = IMAGE_RES
        first = _bert_unused_id(FIRST_BIN)
        self.register_buffer('prefix_ids', torch.tensor([_bert_unused_id(339)]))
        self.register_buffer('target_ids', torch.arange(first, first + IMAGE_RES + 1))
        self.register_buffer('bbox_prob_mask', torch.zeros(self.decoder.config.vocab_size))
        self._set_mask(first)

    @property
    def bin_start_idx(self) -> int:
        return int(self.target_ids[0])

    def _set_mask(self, first: int) -> None:
        """0 for the box tokens ``first .. first + 640``, -10000 elsewhere."""
        with torch.no_grad():
            self.bbox_prob_mask.fill_(-10000.0)
            self.bbox_prob_mask[first:first + IMAGE_RES + 1] = 0.0

    def bind_tokenizer(self, tokenizer) -> None:
        """Take the box tokens' ids from ``tokenizer``'s vocabulary (a ConfigError if it lacks them)."""
        ids = _vocab_ids(tokenizer, [PREFIX_TOKEN] + [f'[unused{FIRST_BIN + i}]' for i in range(IMAGE_RES + 1)],
                         'GroundingHead')
        if ids[-1] >= self.bbox_prob_mask.numel():
            raise ConfigError(f'GroundingHead: the box tokens reach id {ids[-1]} but the decoder\'s vocab_size is '
                              f'{self.bbox_prob_mask.numel()}.')
        with torch.no_grad():
            self.prefix_ids.fill_(ids[0])
            self.target_ids.copy_(torch.tensor(ids[1:]))
        self._set_mask(ids[1])
        self._bound = True

    def _ensure_bound(self) -> None:
        if not self._bound:
            if self._tokenizer_cfg is None:
                raise ConfigError('GroundingHead needs a tokenizer to know its box tokens: BlipGrounding binds its '
                                  'own; a head used alone needs tokenizer=dict(type=\'BlipTokenizer\', ...).')
            self.bind_tokenizer(build_blip_tokenizer(self._tokenizer_cfg))

    def _memory(self, text_embedding, text_embedding_mask, encoder_hidden_states, encoder_attention_mask):
        """What the decoder attends to: image tokens then fused text tokens, and their mask."""
        return (torch.cat([encoder_hidden_states, text_embedding], 1),
                torch.cat([encoder_attention_mask, text_embedding_mask], 1))

    def forward(self, ids, memory, memory_mask) -> torch.Tensor:
        """(N, L, vocab) logits for the box tokens ``ids`` (prefix first), non-box tokens masked out."""
        self._ensure_bound()
        logits = self.decoder(ids, encoder_hidden_states=memory, encoder_attention_mask=memory_mask).logits
        return logits + self.bbox_prob_mask.to(logits.dtype)

    def loss(self, text_embedding, text_embedding_mask, encoder_hidden_states, encoder_attention_mask,
             decoder_targets) -> dict[str, torch.Tensor]:
        """``decoder_targets``: (N, 4) boxes (cx, cy, w, h) in ``[0, 1]``."""
        memory, memory_mask = self._memory(text_embedding, text_embedding_mask, encoder_hidden_states,
                                           encoder_attention_mask)
        self._ensure_bound()
        n = memory.shape[0]
        targets = (decoder_targets.clamp(0, 1) * self.image_res).long() + self.bin_start_idx
        ids = torch.cat([self.prefix_ids.expand(n, 1), targets], dim=1)
        scores = self(ids, memory, memory_mask)[:, :-1]
        token_loss = F.cross_entropy(scores.reshape(-1, scores.shape[-1]).float(), ids[:, 1:].reshape(-1),
                                     reduction='none').view(n, 4)
        with torch.no_grad():
            pred = (scores.argmax(-1) - self.bin_start_idx).to(decoder_targets.dtype) / self.image_res
            weight_l1 = F.l1_loss(pred, decoder_targets, reduction='none').clamp(0, 5) * self.box_l1_loss_coeff
            giou = torch.diag(generalized_box_iou(box_convert(pred, 'cxcywh', 'xyxy'),
                                                  box_convert(decoder_targets, 'cxcywh', 'xyxy')))
            weight_giou = (1 - giou) * self.box_giou_loss_coeff
        return {'loss_seq': (token_loss * weight_l1 * weight_giou[:, None]).mean(),
                'loss_seq_init': token_loss.mean(),
                'box_l1': weight_l1.mean().detach(), 'box_giou': weight_giou.mean().detach()}

    @torch.no_grad()
    def predict(self, text_embedding, text_embedding_mask, encoder_hidden_states,
                encoder_attention_mask) -> torch.Tensor:
        """(N, 4) boxes x1, y1, x2, y2 in ``[0, 1]``: four greedy box tokens after the prefix."""
        memory, memory_mask = self._memory(text_embedding, text_embedding_mask, encoder_hidden_states,
                                           encoder_attention_mask)
        self._ensure_bound()
        ids = self.prefix_ids.expand(memory.shape[0], 1)
        for _ in range(4):
            ids = torch.cat([ids, self(ids, memory, memory_mask)[:, -1].argmax(-1, keepdim=True)], dim=1)
        return self.process_bbox(ids[:, 1:])

    def process_bbox(self, bbox: torch.Tensor) -> torch.Tensor:
        """Box token ids (N, 4) -> x1, y1, x2, y2 in ``[0, 1]``."""
        box = (bbox - self.bin_start_idx).float() / self.image_res
        return box_convert(box, 'cxcywh', 'xyxy').clamp(0, 1)


@MODELS.register_module()
class BlipGrounding(BlipBase):
    """BLIP for visual grounding (MMPretrain's ``BlipGrounding``).

    Args:
        tokenizer: the BLIP tokenizer (``dict(type='BlipTokenizer', name_or_path=...)``).
        visual_encoder: the image encoder (``VisionTransformer`` with ``out_type='raw'``).
        text_encoder: ``XBertEncoder`` run on the text alone (``mode='text'``).
        multimodal_encoder: ``XBertEncoder`` that fuses the text encoder's output with the image.
        head: :class:`GroundingHead` (bound to this model's tokenizer unless it names its own).
        max_text_len: sentences are cut to this many tokens (MMPretrain's 128).
    """

    def __init__(self, tokenizer: dict | None = None, visual_encoder: dict | None = None,
                 text_encoder: dict | None = None, multimodal_encoder: dict | None = None, head: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None, max_text_len: int = 128):
        super().__init__(tokenizer, data_preprocessor, init_cfg)
        for name, value in (('visual_encoder', visual_encoder), ('text_encoder', text_encoder),
                            ('multimodal_encoder', multimodal_encoder), ('head', head)):
            if value is None:
                raise ConfigError(f'BlipGrounding needs model.{name}.')
        self.prompt = 'localize instance: '
        self.max_text_len = max_text_len
        self.visual_encoder = MODELS.build(visual_encoder, key='visual_encoder')
        self.text_encoder = MODELS.build(text_encoder, key='text_encoder')
        self.multimodal_encoder = MODELS.build(multimodal_encoder, key='multimodal_encoder')
        self.grounding_head = MODELS.build(head, key='head')

    def text_vocab_size(self) -> int:
        return self.text_encoder.config.vocab_size

    def extract_feat(self, images: torch.Tensor) -> torch.Tensor:
        return blip_image_tokens(self.visual_encoder, images, 'BlipGrounding')

    def _encode(self, images, data_samples):
        """The head's inputs: fused text states and mask, image tokens and mask."""
        if images is None:
            raise DataError('BlipGrounding got sentences but no images: every text needs its image.')
        texts = batch_texts(self, data_samples, 'text', images.shape[0])
        if not self.grounding_head._bound and self.grounding_head._tokenizer_cfg is None:
            self.grounding_head.bind_tokenizer(self.tokenizer)
        image_embeds = self.extract_feat(images)
        image_atts = self.image_atts(image_embeds)
        text = self.tokenize(texts, image_embeds.device, max_length=self.max_text_len)
        text_embeds = self.text_encoder(text.input_ids, attention_mask=text.attention_mask, mode='text')
        fused = self.multimodal_encoder(encoder_embeds=text_embeds.last_hidden_state, attention_mask=text.attention_mask,
                                        encoder_hidden_states=image_embeds, encoder_attention_mask=image_atts)
        return dict(text_embedding=fused.last_hidden_state, text_embedding_mask=text.attention_mask,
                    encoder_hidden_states=image_embeds, encoder_attention_mask=image_atts)

    @staticmethod
    def _targets(images: torch.Tensor, data_samples) -> torch.Tensor:
        """(N, 4) target boxes cx, cy, w, h in ``[0, 1]`` of the input images."""
        boxes = []
        for i, s in enumerate(data_samples):
            box = s.get('gt_bboxes', s.get('box'))
            if box is None:
                raise DataError(f'BlipGrounding training: sample {i} of the batch has no gt_bboxes (x1, y1, x2, y2); '
                                f"PackInputs must copy it (algorithm_keys=['text', 'gt_bboxes', ...]).")
            box = torch.as_tensor(box, dtype=torch.float32).reshape(-1, 4)[0]
            h, w = s.get('img_shape') or images.shape[-2:]
            boxes.append(box / box.new_tensor([w, h, w, h]))
        return box_convert(torch.stack(boxes).to(images.device), 'xyxy', 'cxcywh')

    def loss(self, inputs: torch.Tensor, data_samples=None) -> dict[str, torch.Tensor]:
        feats = self._encode(inputs, data_samples)
        return self.grounding_head.loss(**feats, decoder_targets=self._targets(inputs, data_samples))

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples=None) -> list[DataSample]:
        boxes = self.grounding_head.predict(**self._encode(inputs, data_samples))
        h, w = inputs.shape[-2:]
        out = []
        for box, sample in zip(boxes, data_samples):
            sx, sy = sample.get('scale_factor') or (1.0, 1.0)
            sample.pred_bboxes = (box * box.new_tensor([w / sx, h / sy, w / sx, h / sy]))[None]
            if sample.get('gt_bboxes') is not None:   # to the original image too, as MMPretrain
                gt = torch.as_tensor(sample.gt_bboxes, dtype=torch.float32).reshape(-1, 4)
                sample.gt_bboxes = gt / gt.new_tensor([sx, sy, sx, sy])
            out.append(sample)
        return out

    def _forward(self, inputs: torch.Tensor, data_samples=None) -> torch.Tensor:
        """The fused text states (B, L, hidden)."""
        return self._encode(inputs, data_samples)['text_embedding']
