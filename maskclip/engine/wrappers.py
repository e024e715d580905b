"""A model wrapper for distributed evaluation of frozen, training-free models."""
from mmengine.registry import MODEL_WRAPPERS
from torch import nn


@MODEL_WRAPPERS.register_module()
class InferenceOnlyWrapper(nn.Module):
    """Stands in for DistributedDataParallel when nothing is trained.

    DDP refuses modules without trainable parameters (MaskCLIP has none) and needs device ids on
    GPU only; evaluation needs no gradient synchronisation, so each process simply runs its share
    of the data and mmengine gathers the results.
    """

    def __init__(self, module: nn.Module, **kwargs):
        super().__init__()
        self.module = module

    def test_step(self, data):
        return self.module.test_step(data)

    def val_step(self, data):
        return self.module.val_step(data)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
