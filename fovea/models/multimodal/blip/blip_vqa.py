"""BLIP visual question answering (Li et al., "BLIP", ICML 2022): the question is encoded by the
image-grounded text encoder (BERT cross-attending to the ViT's tokens) and the answer decoded from it.

MMPretrain's names, arguments and state-dict keys: :class:`BlipVQA` (``vision_backbone``,
``multimodal_backbone``, ``vqa_head``) and :class:`VQAGenerationHead` (``decoder``), with its two
inference methods: ``'generate'`` (open-ended, beam search) and ``'rank'`` (the answer of a candidate
list that the decoder finds most likely, BLIP's VQAv2 evaluation). Hugging Face ``BlipForQuestionAnswering``
checkpoints convert through ``fovea/convert/blip.py``.

Samples carry ``question`` (str) and, for training, ``gt_answer`` (a str or a list of them) with an
optional ``gt_answer_weight`` per answer (VQAv2's answer frequencies; BLIP gives Visual Genome's single
answers 0.2, which is the default here). ``predict`` sets ``pred_answer``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.multimodal.blip.base import BlipBase
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError, DataError

__all__ = ['BlipVQA', 'VQAGenerationHead', 'blip_image_tokens', 'batch_texts']

#: BLIP's weight of an answer without one (Visual Genome's single answers)
DEFAULT_ANSWER_WEIGHT = 0.2
INFERENCE_METHODS = ('generate', 'rank')


def blip_image_tokens(backbone: nn.Module, images, owner: str) -> torch.Tensor:
    """(B, N, C) image tokens of ``backbone`` (a ViT with ``out_type='raw'``) for (B, C, H, W) images, or
    (B, T * N, C) for (B, T, C, H, W) clips (the frames' tokens side by side, as MMPretrain's BLIP)."""
    if not isinstance(images, torch.Tensor):
        raise DataError(f'{owner} needs images: got {type(images).__name__} instead of an image batch. Every question '
                        f'or text needs its image (inputs of shape (B, 3, H, W)).')
    if images.ndim == 4:
        return backbone(images)[0]
    if images.ndim == 5:
        b = images.shape[0]
        tokens = backbone(images.flatten(0, 1))[0]
        return tokens.reshape(b, -1, tokens.shape[-1])
    raise DataError(f'{owner}: images must be (B, C, H, W) or (B, T, C, H, W) video clips, got shape '
                    f'{tuple(images.shape)}.')


def batch_texts(model: BlipBase, data_samples, key: str, count: int) -> list[str]:
    """One ``key`` string per sample (a DataError naming the samples without one) for ``count`` images."""
    owner = type(model).__name__
    if data_samples and len(data_samples) != count:
        raise DataError(f'{owner}: {count} images but {len(data_samples)} samples with a {key!r}; every {key} '
                        f'needs its image and every image its {key}.')
    bad = [i for i, s in enumerate(data_samples or []) if s is None or not isinstance(s.get(key), str)]
    if bad:
        raise DataError(f'{owner}: sample(s) {bad[:5]} of the batch have no {key!r} text; the dataset sets it and '
                        f"PackInputs must copy it (algorithm_keys=['{key}', ...]).")
    return model.texts_of(data_samples, key, owner)


def _answers_of(sample: DataSample, index: int) -> tuple[list[str], list[float]]:
    answers = sample.get('gt_answer')
    if isinstance(answers, str):
        answers = [answers]
    if not answers or not all(isinstance(a, str) for a in answers):
        raise DataError(f'BlipVQA training: sample {index} of the batch has no gt_answer (a string or a list of '
                        f"strings); PackInputs must copy it (algorithm_keys=['question', 'gt_answer', ...]).")
    weights = sample.get('gt_answer_weight')
    if weights is None:
        weights = [DEFAULT_ANSWER_WEIGHT] * len(answers)
    weights = [float(w) for w in (weights.tolist() if isinstance(weights, torch.Tensor) else weights)]
    if len(weights) != len(answers):
        raise DataError(f'BlipVQA training: sample {index} has {len(answers)} answers but {len(weights)} '
                        f'gt_answer_weight values.')
    return list(answers), weights


def load_answer_list(path: str) -> list[str]:
    """A VQA answer list (a JSON list of strings, or a dict whose keys are the answers)."""
    if str(path).startswith(('http://', 'https://')):
        from fovea.utils.download import download_to_cache
        path = download_to_cache(str(path))
    try:
        answers = json.loads(Path(path).read_text(encoding='utf-8'))
    except (OSError, ValueError) as exc:
        raise ConfigError(f'VQAGenerationHead answer_list_path={str(path)!r} could not be read as JSON ({exc}).') \
            from None
    if isinstance(answers, dict):
        answers = list(answers)
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise ConfigError(f'VQAGenerationHead answer_list_path={str(path)!r} must hold a non-empty JSON list of '
                          f'answer strings (BLIP\'s answer_list.json).')
    return answers


@MODELS.register_module()
class VQAGenerationHead(BaseModule):
    """BLIP's answer decoder (MMPretrain's ``VQAGenerationHead``).

    Args:
        decoder: the text decoder (``XBertLMHeadDecoder``), cross-attending to the encoded question.
        inference_method: 'generate' (beam search of ``num_beams``, at most 10 tokens) or 'rank' (the best
            of the answer list: the ``num_ans_candidates`` answers whose first token is likeliest are scored
            by the decoder's sequence loss, as BLIP).
        num_beams: beams of 'generate'.
        num_ans_candidates: answers 'rank' scores in full per question.
        loss: the token loss of training (default ``nn.CrossEntropyLoss(reduction='none')``, MMPretrain's;
            a config dict or a module).
        answer_list_path: 'rank': a JSON list of answers (a path or URL, read on first use).
        answer_list: 'rank': the answers themselves (instead of a file).
    """

    def __init__(self, decoder: dict, inference_method: str = 'generate', num_beams: int = 3,
                 num_ans_candidates: int = 128, loss: dict | nn.Module | None = None, init_cfg: dict | None = None,
                 answer_list_path: str | None = None, answer_list: Sequence[str] | None = None):
        super().__init__(init_cfg)
        if inference_method not in INFERENCE_METHODS:
            raise ConfigError(f"VQAGenerationHead inference_method must be 'generate' or 'rank', got "
                              f'{inference_method!r}.')
        if inference_method == 'generate' and not (isinstance(num_beams, int) and num_beams >= 1):
            raise ConfigError(f"VQAGenerationHead inference_method='generate' needs an int num_beams >= 1, got "
                              f'{num_beams!r}.')
        if inference_method == 'rank':
            if not (isinstance(num_ans_candidates, int) and num_ans_candidates >= 1):
                raise ConfigError(f"VQAGenerationHead inference_method='rank' needs an int num_ans_candidates >= 1, "
                                  f'got {num_ans_candidates!r}.')
            if answer_list_path is None and not answer_list:
                raise ConfigError("VQAGenerationHead inference_method='rank' needs answer_list_path (the path or URL "
                                  "of BLIP's answer_list.json) or answer_list=[...].")
        self.decoder = MODELS.build(decoder, key='decoder')
        self.inference_method = inference_method
        self.num_beams = num_beams
        self._num_ans_candidates = num_ans_candidates
        self.answer_list_path = answer_list_path
        self._answer_list = list(answer_list) if answer_list else None
        if loss is None:
            loss = nn.CrossEntropyLoss(reduction='none', ignore_index=-100)
        self.loss_module = loss if isinstance(loss, nn.Module) else MODELS.build(loss, key='loss')

    @property
    def answer_list(self) -> list[str] | None:
        """The candidate answers of 'rank' (the file is read on first use, so configs build offline)."""
        if self._answer_list is None and self.answer_list_path is not None:
            self._answer_list = load_answer_list(self.answer_list_path)
        return self._answer_list

    @property
    def num_ans_candidates(self) -> int:
        return min(self._num_ans_candidates, len(self.answer_list or ()))

    def forward(self, feats: dict) -> torch.Tensor:
        """(N, L - 1, vocab) logits of the answer tokens 1..L-1 given the questions' states."""
        return self.decoder(feats['answer_input_ids'], attention_mask=feats['answer_attention_mask'],
                            encoder_hidden_states=feats['question_states'],
                            encoder_attention_mask=feats['question_atts'], return_logits=True)

    def loss(self, feats: dict, data_samples=None) -> dict[str, torch.Tensor]:
        """``vqa_loss``: each answer's summed token loss, weighted, summed and divided by the batch size."""
        logits = self(feats)
        labels = feats['answer_targets'][:, 1:]
        token_loss = self.loss_module(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1))
        per_answer = token_loss.view(logits.shape[0], -1).sum(1)
        return {'vqa_loss': (feats['answer_weight'] * per_answer).sum() / feats['batch_size']}

    @torch.no_grad()
    def predict_rank(self, feats: dict, data_samples=None) -> list[str]:
        """The answer of ``answer_candidates`` (token ids starting with bos) the decoder ranks first."""
        states, atts = feats['multimodal_embeds'], feats['question_atts']
        cands = feats['answer_candidates']
        ids, mask = cands.input_ids, cands.attention_mask
        n, k = states.shape[0], self.num_ans_candidates
        start = ids[:1, :1].expand(n, 1)
        first = self.decoder(start, encoder_hidden_states=states, encoder_attention_mask=atts).logits[:, 0]
        first_prob = F.softmax(first.float(), dim=1).index_select(1, ids[:, 1])
        top_prob, top_ids = first_prob.topk(k, dim=1)                          # (n, k)
        flat = top_ids.reshape(-1)
        input_ids, input_mask = ids[flat], mask[flat]
        targets = input_ids.masked_fill(input_ids == feats['pad_token_id'], -100)
        out = self.decoder(input_ids, attention_mask=input_mask, encoder_hidden_states=states.repeat_interleave(k, 0),
                           encoder_attention_mask=atts.repeat_interleave(k, 0), labels=targets, reduction='none')
        scores = -out.loss.view(n, k)
        best = top_ids.gather(1, scores.argmax(dim=1, keepdim=True)).squeeze(1)
        answers = self.answer_list
        return [answers[int(i)] for i in best]

    @torch.no_grad()
    def predict_generate(self, feats: dict, data_samples=None) -> torch.Tensor:
        """(N, L) generated answer ids (bos first): beam search over at most 10 tokens."""
        states = feats['multimodal_embeds']
        atts = torch.ones(states.shape[:-1], dtype=torch.long, device=states.device)
        bos = torch.full((states.shape[0], 1), feats['bos_token_id'], dtype=torch.long, device=states.device)
        return self.decoder.generate(bos, states, atts, max_length=10, min_length=1, num_beams=self.num_beams,
                                     eos_token_id=feats['sep_token_id'], pad_token_id=feats['pad_token_id'])

    def predict(self, feats: dict, data_samples=None):
        if self.inference_method == 'generate':
            return self.predict_generate(feats, data_samples)
        return self.predict_rank(feats, data_samples)


@MODELS.register_module()
class BlipVQA(BlipBase):
    """BLIP for visual question answering (MMPretrain's ``BlipVQA``).

    Args:
        tokenizer: the BERT WordPiece tokenizer (``dict(type='BlipTokenizer', name_or_path=...)``, built on
            first use).
        vision_backbone: the image encoder (``VisionTransformer`` with ``out_type='raw'``).
        multimodal_backbone: the image-grounded question encoder (``XBertEncoder`` with cross-attention).
        head: :class:`VQAGenerationHead`.
        max_question_len: questions are cut to this many tokens (None: not cut).
    """

    def __init__(self, tokenizer: dict, vision_backbone: dict, multimodal_backbone: dict, head: dict,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None,
                 max_question_len: int | None = None):
        super().__init__(tokenizer, data_preprocessor, init_cfg)
        self.vision_backbone = MODELS.build(vision_backbone, key='vision_backbone')
        self.multimodal_backbone = MODELS.build(multimodal_backbone, key='multimodal_backbone')
        self.vqa_head = MODELS.build(head, key='head')
        self.max_question_len = max_question_len
        self._candidates: tuple | None = None

    def text_vocab_size(self) -> int:
        return min(self.multimodal_backbone.config.vocab_size, self.vqa_head.decoder.config.vocab_size)

    def extract_feat(self, images: torch.Tensor) -> torch.Tensor:
        """(B, N, C) image tokens ((B, T * N, C) for video clips)."""
        return blip_image_tokens(self.vision_backbone, images, 'BlipVQA')

    def encode_questions(self, images, data_samples) -> tuple[torch.Tensor, torch.Tensor]:
        """The image-grounded question states (B, L, hidden) and the question mask (B, L): questions
        start with ``[ENC]`` (BLIP's image-grounded encoder token)."""
        if images is None:
            raise DataError('BlipVQA got questions but no images: every question needs its image (inputs of shape '
                            '(B, 3, H, W), one image per question).')
        questions = batch_texts(self, data_samples, 'question', images.shape[0])
        image_embeds = self.extract_feat(images)
        tokens = self.tokenize(questions, image_embeds.device, max_length=self.max_question_len)
        ids = tokens.input_ids.clone()
        ids[:, 0] = self.tokenizer.enc_token_id
        states = self.multimodal_backbone(ids, attention_mask=tokens.attention_mask, encoder_hidden_states=image_embeds,
                                          encoder_attention_mask=self.image_atts(image_embeds)).last_hidden_state
        return states, tokens.attention_mask

    def _answer_tokens(self, answers: Sequence[str], device):
        """Answers as decoder inputs: ``[DEC] answer [SEP]`` (BLIP's; MMPretrain's training keeps ``[CLS]``
        first while its prediction starts from ``[DEC]``; fovea uses ``[DEC]`` in both)."""
        tokens = self.tokenize(answers, device)
        tokens.input_ids[:, 0] = self.tokenizer.bos_token_id
        return tokens

    def loss(self, inputs: torch.Tensor, data_samples=None) -> dict[str, torch.Tensor]:
        states, q_mask = self.encode_questions(inputs, data_samples)
        answers, weights, counts = [], [], []
        for i, sample in enumerate(data_samples):
            a, w = _answers_of(sample, i)
            answers += a
            weights += w
            counts.append(len(a))
        tokens = self._answer_tokens(answers, states.device)
        targets = tokens.input_ids.masked_fill(tokens.input_ids == self.tokenizer.pad_token_id, -100)
        counts_t = torch.tensor(counts, device=states.device)
        feats = dict(answer_input_ids=tokens.input_ids, answer_attention_mask=tokens.attention_mask,
                     answer_weight=torch.tensor(weights, dtype=states.dtype, device=states.device),
                     answer_targets=targets, question_states=states.repeat_interleave(counts_t, 0),
                     question_atts=q_mask.repeat_interleave(counts_t, 0), batch_size=len(data_samples))
        return self.vqa_head.loss(feats)

    def _answer_candidates(self, device):
        answers = self.vqa_head.answer_list
        key = (id(answers), len(answers), device)
        if self._candidates is None or self._candidates[0] != key:
            self._candidates = (key, self._answer_tokens(answers, device))
        return self._candidates[1]

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples=None) -> list[DataSample]:
        states, q_mask = self.encode_questions(inputs, data_samples)
        rank = self.vqa_head.inference_method == 'rank'
        feats = dict(multimodal_embeds=states, question_atts=q_mask,
                     answer_candidates=self._answer_candidates(states.device) if rank else None,
                     bos_token_id=self.tokenizer.bos_token_id, sep_token_id=self.tokenizer.sep_token_id,
                     pad_token_id=self.tokenizer.pad_token_id)
        out = self.vqa_head.predict(feats)
        answers = out if rank else self.tokenizer.batch_decode(out, skip_special_tokens=True)
        for sample, answer in zip(data_samples, answers):
            sample.pred_answer = answer.strip()
        return list(data_samples)

    def _forward(self, inputs: torch.Tensor, data_samples=None) -> torch.Tensor:
        """The image-grounded question states (B, L, hidden)."""
        return self.encode_questions(inputs, data_samples)[0]
