"""Runner hooks and model wrappers registered into mmengine / mmseg registries."""
from .checkpoint import register_checkpoint_safe_globals
from .checkpoint_files import AtomicCheckpointHook
from .hooks import ClassVocabularyCheckHook
from .robustness import RobustnessLoop
from .schedulers import FlooredPolyLR
from .wrappers import InferenceOnlyWrapper

register_checkpoint_safe_globals()  # mmengine checkpoints load with torch's weights_only=True

__all__ = ['AtomicCheckpointHook', 'ClassVocabularyCheckHook', 'RobustnessLoop', 'FlooredPolyLR', 'InferenceOnlyWrapper']
