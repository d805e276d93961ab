"""Knowledge distillation from a frozen teacher (Hinton et al., "Distilling the Knowledge in a Neural
Network", 2015; DeiT's hard and soft distillation, Touvron et al., ICML 2021)."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.classifiers.image import ImageClassifier
from fovea.models.data_preprocessor import samples_to_targets
from fovea.registry import MODELS, key_scope
from fovea.utils.errors import ConfigError

__all__ = ['DistillImageClassifier', 'distillation_loss']


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, distill_type: str = 'hard',
                      tau: float = 1.0) -> torch.Tensor:
    """DeiT's distillation term.

    'soft': KL(softmax(teacher / tau) || softmax(student / tau)) * tau^2, summed and divided by the
    number of logits (batch x classes), exactly as DeiT's reference code.
    'hard': cross-entropy against the teacher's argmax.
    """
    if distill_type == 'hard':
        return F.cross_entropy(student.float(), teacher.argmax(dim=1))
    if distill_type == 'soft':
        s = F.log_softmax(student.float() / tau, dim=1)
        t = F.log_softmax(teacher.float() / tau, dim=1)
        return F.kl_div(s, t, reduction='sum', log_target=True) * tau * tau / student.numel()
    raise ConfigError(f"distill_type must be 'hard' or 'soft', got {distill_type!r}")


@MODELS.register_module()
class DistillImageClassifier(ImageClassifier):
    """An :class:`ImageClassifier` trained with an extra distillation loss from a frozen teacher.

    ``loss = (1 - alpha) * head_loss(class scores, labels) + alpha * distill(dist scores, teacher)``.
    With :class:`~fovea.models.heads.DeiTClsHead` the class token learns the labels and the
    distillation token the teacher (DeiT ⚗); with any other head both terms use the same scores
    (classic knowledge distillation). Prediction is the student's alone.

    The teacher sees the student's preprocessed (normalised, mixed) batch, so it must expect the
    same normalisation. It is kept in eval mode, gets no gradients, and is left out of the student's
    checkpoints.

    Args:
        teacher: ``dict(config=<config file or shipped name> | model=<model config dict>,
            checkpoint=<path or URL, optional>)``.
        distill_type: 'hard' (teacher argmax) or 'soft' (KL at temperature ``tau``).
        alpha: weight of the distillation term.
        tau: temperature of the soft distillation.
        **kwargs: :class:`ImageClassifier` arguments (backbone, neck, head, ...).
    """

    def __init__(self, teacher: dict, distill_type: str = 'hard', alpha: float = 0.5, tau: float = 1.0,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if distill_type not in ('hard', 'soft'):
            raise ConfigError(f"model.distill_type must be 'hard' or 'soft', got {distill_type!r}")
        if not 0 <= alpha <= 1:
            raise ConfigError(f'model.alpha must be in [0, 1], got {alpha}')
        self.distill_type, self.alpha, self.tau = distill_type, alpha, tau
        self.teacher = self._build_teacher(teacher)
        for p in self.teacher.parameters():
            p.requires_grad = False
        self.teacher.eval()
        self._register_state_dict_hook(_drop_teacher_keys)
        self.register_load_state_dict_post_hook(_ignore_missing_teacher_keys)

    @staticmethod
    def _build_teacher(cfg: dict) -> nn.Module:
        if isinstance(cfg, nn.Module):
            return cfg
        if not isinstance(cfg, dict) or not ({'config', 'model'} & set(cfg)):
            raise ConfigError('model.teacher must be dict(config=<config file or name>, checkpoint=...) or '
                              'dict(model=<model config>, checkpoint=...).')
        with key_scope('teacher'):
            if 'model' in cfg:
                model_cfg = dict(cfg['model'])
            else:
                from fovea.config import Config
                model_cfg = Config.fromfile(cfg['config']).to_dict()['model']
            teacher = MODELS.build(model_cfg, key='model')
        if hasattr(teacher, 'init_weights'):
            teacher.init_weights()
        if cfg.get('checkpoint'):
            from fovea.models.weights import load_pretrained
            load_pretrained(teacher, cfg['checkpoint'])
        return teacher

    def init_weights(self) -> None:
        """Initialise the student only: the teacher keeps the weights it was built and loaded with."""
        teacher = self._modules.pop('teacher')
        try:
            super().init_weights()
        finally:
            self._modules['teacher'] = teacher

    def train(self, mode: bool = True) -> 'DistillImageClassifier':
        super().train(mode)
        self.teacher.eval()
        return self

    @torch.no_grad()
    def teacher_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        out = self.teacher(inputs, mode='tensor') if hasattr(self.teacher, 'data_preprocessor') else self.teacher(inputs)
        return out[-1] if isinstance(out, (tuple, list)) else out

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        feats = self.extract_feat(inputs)
        if hasattr(self.head, 'forward_distill'):
            cls_score, dist_score = self.head.forward_distill(feats)
        else:
            cls_score = dist_score = self.head(feats)
        target = samples_to_targets(data_samples, device=cls_score.device)
        loss_cls = self.head.loss_module(cls_score, target, avg_factor=cls_score.size(0))
        loss_distill = distillation_loss(dist_score, self.teacher_logits(inputs), self.distill_type, self.tau)
        return {'loss_cls': (1 - self.alpha) * loss_cls, 'loss_distill': self.alpha * loss_distill}


def _drop_teacher_keys(module, state_dict, prefix, local_metadata):
    for k in [k for k in state_dict if k.startswith(prefix + 'teacher.')]:
        del state_dict[k]
    return state_dict


def _ignore_missing_teacher_keys(module, incompatible_keys):
    missing = incompatible_keys.missing_keys
    missing[:] = [k for k in missing if not k.startswith('teacher.') and '.teacher.' not in k]
