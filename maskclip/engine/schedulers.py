"""Learning-rate schedules that reproduce released training scripts exactly."""
from __future__ import annotations

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmseg.registry import PARAM_SCHEDULERS


class FlooredPolyParamScheduler(_ParamScheduler):
    """``value = max(base * (1 - t / T) ** power, eta_min)`` at step ``t`` of ``T = end - begin``.

    The ReCLIP authors' ``adjust_learning_rate_poly`` (dogehhh/ReCLIP@99b64d7
    ``tools/distill.py:37-45``, ``tools/train.py:61-65`` without a floor), called with the epoch
    index: one value per epoch (``by_epoch=True``), the first epoch at ``base``, the floor clipping
    the decay rather than offsetting it. mmengine's ``PolyLR`` differs in both: it decays to
    ``eta_min`` as ``(base - eta_min) * (1 - t / (T - 1)) ** power + eta_min``.
    """

    def __init__(self, optimizer, param_name: str, eta_min: float = 0.0, power: float = 1.0,
                 begin: int = 0, end: int = INF, last_step: int = -1, by_epoch: bool = True,
                 verbose: bool = False):
        if end == INF:
            raise ValueError('FlooredPolyLR needs `end` (the number of epochs it decays over).')
        self.eta_min = eta_min
        self.power = power
        self.total_steps = end - begin
        super().__init__(optimizer, param_name=param_name, begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    def _get_value(self):
        progress = min(self.last_step, self.total_steps) / self.total_steps
        return [max(base * (1 - progress) ** self.power, self.eta_min)
                for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class FlooredPolyLR(LRSchedulerMixin, FlooredPolyParamScheduler):
    """:class:`FlooredPolyParamScheduler` of the learning rate."""
