"""DINOTeacherTempWarmupHook: DINO's teacher temperature schedule (MMPretrain project's name and
arguments)."""
from __future__ import annotations

from fovea.engine.hooks import Hook
from fovea.registry import HOOKS
from fovea.utils.errors import ConfigError

__all__ = ['DINOTeacherTempWarmupHook']


@HOOKS.register_module()
class DINOTeacherTempWarmupHook(Hook):
    """Before each epoch, set ``model.head.teacher_temp``: linear from ``warmup_teacher_temp`` to
    ``teacher_temp`` over the first ``teacher_temp_warmup_epochs`` epochs, then constant (DINO:
    0.04 -> 0.07 over 30 epochs for long runs, 0.04 throughout for 100 epochs)."""

    priority = 'NORMAL'

    def __init__(self, warmup_teacher_temp: float, teacher_temp: float, teacher_temp_warmup_epochs: int,
                 max_epochs: int):
        if not 0 <= teacher_temp_warmup_epochs <= max_epochs:
            raise ConfigError(f'DINOTeacherTempWarmupHook: teacher_temp_warmup_epochs={teacher_temp_warmup_epochs} '
                              f'must be between 0 and max_epochs={max_epochs}.')
        n = teacher_temp_warmup_epochs
        warm = [warmup_teacher_temp + (teacher_temp - warmup_teacher_temp) * i / (n - 1) if n > 1
                else warmup_teacher_temp for i in range(n)]
        self.teacher_temps = warm + [teacher_temp] * (max_epochs - n)

    def temp_at(self, epoch: int) -> float:
        return self.teacher_temps[min(epoch, len(self.teacher_temps) - 1)]

    def before_train_epoch(self, runner) -> None:
        runner.unwrapped_model.head.teacher_temp = self.temp_at(runner.epoch)
