"""Runner hooks registered into mmseg's HOOKS registry."""
from .hooks import ClassVocabularyCheckHook

__all__ = ['ClassVocabularyCheckHook']
