"""Large-batch optimizers: LAMB and LARS (MMPretrain's registered names and arguments).

``optim_wrapper.optimizer=dict(type='Lamb', lr=5e-3, weight_decay=0.02)`` (the ResNet "strikes back"
recipes) or ``dict(type='LARS', lr=1.6, momentum=0.9, weight_decay=1e-6)`` (linear probing of
self-supervised models). Every ``torch.optim`` optimizer is registered by its name as well
(see :mod:`fovea.engine.optim_wrapper`); ``fused=True``/``foreach=True`` are passed through to
those where torch offers them. Both optimizers here update all tensors of a parameter group with
``torch._foreach_*`` kernels (one launch per operation instead of one per tensor).
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch

from fovea.registry import OPTIMIZERS
from fovea.utils.errors import ConfigError

__all__ = ['Lamb', 'LARS']


@OPTIMIZERS.register_module(name=['Lamb', 'LAMB'])
class Lamb(torch.optim.Optimizer):
    """LAMB: Adam with a per-tensor trust ratio (You et al., "Large Batch Optimization for Deep
    Learning: Training BERT in 76 minutes", arXiv:1904.00962), as MMPretrain/timm's ``Lamb``.

    Per step: gradients are clipped jointly to ``max_grad_norm`` (global norm); Adam moments with
    bias correction give ``u = m / (sqrt(v) + eps) + weight_decay * w``; the update is
    ``w -= lr * (||w|| / ||u||) * u`` (trust ratio 1 when a norm is 0, capped at 1 with
    ``trust_clip``; applied only when ``weight_decay != 0`` unless ``always_adapt``).

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        bias_correction: Adam bias correction of the moments.
        betas: coefficients of the first and second moments.
        eps: added to the denominator.
        weight_decay: decoupled weight decay, added to the update before the trust ratio.
        grad_averaging: scale the gradient by ``1 - beta1`` in the first moment.
        max_grad_norm: global gradient-norm clip (``None`` disables).
        trust_clip: cap the trust ratio at 1 (LAMBC).
        always_adapt: apply the trust ratio also to parameters without weight decay.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, bias_correction: bool = True,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6, weight_decay: float = 0.01,
                 grad_averaging: bool = True, max_grad_norm: float | None = 1.0, trust_clip: bool = False,
                 always_adapt: bool = False):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ConfigError(f'Lamb: lr, eps and weight_decay must be >= 0, got {lr}, {eps}, {weight_decay}')
        if not all(0 <= b < 1 for b in betas):
            raise ConfigError(f'Lamb: betas must be in [0, 1), got {betas}')
        defaults = dict(lr=lr, bias_correction=bias_correction, betas=tuple(betas), eps=eps,
                        weight_decay=weight_decay, grad_averaging=grad_averaging, max_grad_norm=max_grad_norm,
                        trust_clip=trust_clip, always_adapt=always_adapt)
        super().__init__(params, defaults)

    @torch.no_grad()
    def _global_clip(self) -> torch.Tensor | None:
        max_norm = self.defaults['max_grad_norm']
        grads = [p.grad for g in self.param_groups for p in g['params'] if p.grad is not None]
        if max_norm is None or not grads:
            return None
        if any(g.is_sparse for g in grads):
            raise RuntimeError('Lamb does not support sparse gradients')
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        return torch.clamp(norm / max_norm, min=1.0)

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        clip = self._global_clip()
        for group in self.param_groups:
            params = [p for p in group['params'] if p.grad is not None]
            if not params:
                continue
            beta1, beta2 = group['betas']
            beta3 = 1 - beta1 if group['grad_averaging'] else 1.0
            grads = [p.grad for p in params]
            if clip is not None:
                grads = torch._foreach_div(grads, clip)
            for p in params:
                st = self.state[p]
                if not st:
                    st['step'] = 0
                    st['exp_avg'] = torch.zeros_like(p)
                    st['exp_avg_sq'] = torch.zeros_like(p)
                st['step'] += 1
            step = self.state[params[0]]['step']
            m = [self.state[p]['exp_avg'] for p in params]
            v = [self.state[p]['exp_avg_sq'] for p in params]
            torch._foreach_mul_(m, beta1)
            torch._foreach_add_(m, grads, alpha=beta3)
            torch._foreach_mul_(v, beta2)
            torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
            bc1 = 1 - beta1 ** step if group['bias_correction'] else 1.0
            bc2 = 1 - beta2 ** step if group['bias_correction'] else 1.0
            denom = torch._foreach_sqrt(v)
            torch._foreach_div_(denom, bc2 ** 0.5)
            torch._foreach_add_(denom, group['eps'])
            update = torch._foreach_div(m, denom)
            torch._foreach_div_(update, bc1)
            wd = group['weight_decay']
            if wd != 0:
                torch._foreach_add_(update, params, alpha=wd)
            if wd != 0 or group['always_adapt']:
                w_norm = torch._foreach_norm(params)
                u_norm = torch._foreach_norm(update)
                for i, (wn, un) in enumerate(zip(w_norm, u_norm)):
                    ratio = torch.where(wn > 0, torch.where(un > 0, wn / un, torch.ones_like(wn)),
                                        torch.ones_like(wn))
                    if group['trust_clip']:
                        ratio = torch.clamp(ratio, max=1.0)
                    update[i].mul_(ratio)
            torch._foreach_add_(params, update, alpha=-group['lr'])
        return loss


@OPTIMIZERS.register_module()
class LARS(torch.optim.Optimizer):
    """LARS: SGD with a layer-wise trust ratio (You et al., "Large Batch Training of Convolutional
    Networks", arXiv:1708.03888), as MMPretrain's ``LARS``.

    ``local_lr = eta * ||w|| / (||g|| + weight_decay * ||w|| + eps)`` (1 when a norm is 0 or the
    group has ``lars_exclude=True``, e.g. biases and norms via ``paramwise_cfg.custom_keys``);
    ``d = local_lr * (g + weight_decay * w)`` then SGD momentum (optionally Nesterov) on ``d``.
    """

    def __init__(self, params: Iterable, lr: float, momentum: float = 0, weight_decay: float = 0,
                 dampening: float = 0, eta: float = 0.001, nesterov: bool = False, eps: float = 1e-8):
        if lr < 0 or momentum < 0 or weight_decay < 0 or eta < 0:
            raise ConfigError(f'LARS: lr, momentum, weight_decay and eta must be >= 0, '
                              f'got {lr}, {momentum}, {weight_decay}, {eta}')
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ConfigError('LARS: Nesterov momentum needs momentum > 0 and dampening = 0')
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, eta=eta, eps=eps)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group['params'] if p.grad is not None]
            if not params:
                continue
            wd, eta, mom = group['weight_decay'], group['eta'], group['momentum']
            grads = [p.grad for p in params]
            if group.get('lars_exclude', False):
                d_ps = torch._foreach_add(grads, params, alpha=wd) if wd else [g.clone() for g in grads]
            else:
                w_norm = torch._foreach_norm(params)
                g_norm = torch._foreach_norm(grads)
                d_ps = torch._foreach_add(grads, params, alpha=wd) if wd else [g.clone() for g in grads]
                for d, wn, gn in zip(d_ps, w_norm, g_norm):
                    local = torch.where((wn > 0) & (gn > 0), eta * wn / (gn + wd * wn + group['eps']),
                                        torch.ones_like(wn))
                    d.mul_(local)
            if mom != 0:
                bufs = []
                for p, d in zip(params, d_ps):
                    st = self.state[p]
                    if 'momentum_buffer' not in st:
                        st['momentum_buffer'] = d.clone().detach()
                    else:
                        st['momentum_buffer'].mul_(mom).add_(d, alpha=1 - group['dampening'])
                    bufs.append(st['momentum_buffer'])
                if group['nesterov']:
                    torch._foreach_add_(d_ps, bufs, alpha=mom)
                else:
                    d_ps = bufs
            torch._foreach_add_(params, d_ps, alpha=-group['lr'])
        return loss
