"""Runner hooks and model wrappers registered into mmengine / mmseg registries."""
from .hooks import ClassVocabularyCheckHook
from .wrappers import InferenceOnlyWrapper

__all__ = ['ClassVocabularyCheckHook', 'InferenceOnlyWrapper']
