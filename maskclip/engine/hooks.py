"""Hooks that stop a run early when its configuration cannot give right numbers."""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


def check_vocabulary_matches(model_classes, dataset_classes, dataset_name: str) -> None:
    """Raise if the model's class list and the dataset's label set differ in size.

    Labels are indices, so a size mismatch would silently score class i against label i of
    another list.
    """
    if len(model_classes) != len(dataset_classes):
        raise ValueError(
            f'The model predicts {len(model_classes)} classes but {dataset_name} has '
            f'{len(dataset_classes)}: set the head\'s class_names to a vocabulary with one class per '
            f'dataset label, in label order (built-in files: maskclip/text/class_names/).')


@HOOKS.register_module()
class ClassVocabularyCheckHook(Hook):
    """Before evaluation, check that the model's vocabulary fits the dataset's labels."""

    priority = 'VERY_HIGH'

    def _check(self, runner, loop_name: str) -> None:
        loop = getattr(runner, loop_name, None)
        dataloader = getattr(loop, 'dataloader', None) if loop is not None else None
        if dataloader is None:
            return
        dataset = dataloader.dataset
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model = getattr(model, 'module', model)  # test-time-augmentation wrapper
        classes = getattr(model, 'class_names', None)  # MaskCLIP / MaskCLIP+ segmentors
        if classes is None:
            classes = getattr(getattr(model, 'decode_head', None), 'class_names', None)
        dataset_classes = dataset.metainfo.get('classes')
        if classes is not None and dataset_classes is not None:
            check_vocabulary_matches(classes, dataset_classes, type(dataset).__name__)

    def before_test(self, runner) -> None:
        self._check(runner, 'test_loop')

    def before_val(self, runner) -> None:
        self._check(runner, 'val_loop')
