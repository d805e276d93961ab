"""BLIP image captioning (Li et al., ICML 2022): a ViT image encoder and an image-grounded BERT decoder
that continues a prompt ('a picture of ').

MMPretrain's ``BlipCaption`` (arguments and state-dict names ``visual_encoder.*``,
``seq_gen_head.decoder.*``), so its configs and checkpoints work unchanged; Salesforce BLIP and
``transformers`` ``BlipForConditionalGeneration`` checkpoints are translated by ``fovea/convert/blip.py``.
"""
from __future__ import annotations

import torch

from fovea.models.multimodal.blip.base import BlipBase
from fovea.registry import MODELS
from fovea.structures import DataSample

__all__ = ['BlipCaption']


@MODELS.register_module()
class BlipCaption(BlipBase):
    """BLIP captioner.

    Args:
        vision_encoder: the image encoder (``VisionTransformer`` with ``out_type='raw'``: all tokens).
        decoder_head: ``SeqGenerationHead`` with an ``XBertLMHeadDecoder``.
        tokenizer: ``dict(type='BlipTokenizer', name_or_path=...)`` (built on first use).
        prompt: the text the decoder continues, trained without loss and cut from the predictions.
        max_txt_len: tokens per training caption (prompt included).
        num_captions: captions generated per image (rows of ``predict``'s output per image).
        generation_cfg: default keyword arguments of the head's ``predict`` (``num_beams``, ``max_length``,
            ``min_length``, ``use_nucleus_sampling``, ``repetition_penalty``...; MMPretrain's defaults when empty).

    ``loss(images, data_samples)`` reads each sample's ``gt_caption`` (``text`` also accepted);
    ``predict`` sets ``pred_caption``; :meth:`generate` returns the captions as strings.
    """

    def __init__(self, vision_encoder: dict, decoder_head: dict, tokenizer: dict | None = None, prompt: str = '',
                 max_txt_len: int = 20, num_captions: int = 1, generation_cfg: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        super().__init__(tokenizer, data_preprocessor, init_cfg)
        self.visual_encoder = MODELS.build(vision_encoder, key='vision_encoder')
        self.seq_gen_head = MODELS.build(decoder_head, key='decoder_head')
        self.prompt = prompt
        self.max_txt_len = max_txt_len
        self.num_captions = num_captions
        self.generation_cfg = dict(generation_cfg or {})

    def text_vocab_size(self) -> int:
        return self.seq_gen_head.decoder.config.vocab_size

    @property
    def prompt_length(self) -> int:
        """Tokens of ``[DEC] prompt`` (the labels masked in training)."""
        return len(self.tokenizer.encode(self.prompt)) + 1

    def extract_feat(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1 + N, C) image tokens."""
        return self.visual_encoder(images)[0]

    def _prompt_ids(self, n: int, device) -> torch.Tensor:
        ids = self.tokenize([self.prompt] * n, device).input_ids[:, :-1]    # without [SEP]
        ids[:, 0] = self.tokenizer.bos_token_id
        return ids

    def loss(self, images: torch.Tensor, data_samples) -> dict[str, torch.Tensor]:
        image_embeds = self.extract_feat(images)
        field = 'gt_caption' if data_samples and 'gt_caption' in data_samples[0] else 'text'
        captions = self.texts_of(data_samples, field, 'BlipCaption training')
        text = self.tokenize([self.prompt + c for c in captions], image_embeds.device, padding='longest',
                             truncation=True, max_length=self.max_txt_len)
        ids = text.input_ids.clone()
        ids[:, 0] = self.tokenizer.bos_token_id
        labels = ids.masked_fill(ids == self.tokenizer.pad_token_id, -100)
        labels[:, :self.prompt_length] = -100
        return self.seq_gen_head.loss(ids, image_embeds, self.image_atts(image_embeds), labels)

    @torch.no_grad()
    def generate(self, images: torch.Tensor, **kwargs) -> list[str]:
        """Captions of preprocessed images (B, 3, H, W): ``B * num_captions`` strings, the prompt removed.
        Keyword arguments override ``generation_cfg`` (see :meth:`SeqGenerationHead.predict`)."""
        image_embeds = self.extract_feat(images).repeat_interleave(self.num_captions, 0)
        cfg = {**self.generation_cfg, **kwargs}
        ids = self.seq_gen_head.predict(self._prompt_ids(image_embeds.shape[0], image_embeds.device), image_embeds,
                                        sep_token_id=self.tokenizer.sep_token_id,
                                        pad_token_id=self.tokenizer.pad_token_id, **cfg)
        prompt = self.tokenizer.decode(self.tokenizer.encode(self.prompt)) if self.prompt else ''
        out = []
        for text in self.tokenizer.batch_decode(ids):
            out.append(text[len(prompt):].strip() if prompt and text.startswith(prompt) else text.strip())
        return out

    def predict(self, images: torch.Tensor, data_samples=None, **kwargs) -> list[DataSample]:
        captions = self.generate(images, **kwargs)
        n = self.num_captions
        out = []
        for i in range(images.shape[0]):
            sample = data_samples[i] if data_samples is not None else DataSample()
            sample.pred_caption = captions[i * n] if n == 1 else captions[i * n:(i + 1) * n]
            out.append(sample)
        return out

    def _forward(self, images: torch.Tensor, data_samples=None) -> torch.Tensor:
        return self.extract_feat(images)
