"""A hook for tests/test_engine/test_train_runner.py that kills its training process in the
middle of writing a checkpoint, as a power cut or ``kill -9`` would: the file being written gets
half its bytes, then the process ends at once (no cleanup, no ``finally``)."""
import os

from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class KillDuringSaveHook(Hook):
    """Kill the process while the checkpoint of iteration ``at_iter`` is being written (mmengine
    writes checkpoint bytes through ``LocalBackend.put``)."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if checkpoint['meta']['iter'] != self.at_iter:
            return

        def half_then_die(backend, data: bytes, filepath) -> None:
            with open(filepath, 'wb') as f:
                f.write(data[:len(data) // 2])
            os._exit(137)

        LocalBackend.put = half_then_die
