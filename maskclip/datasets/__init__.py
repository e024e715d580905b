"""Datasets registered into mmseg's DATASETS registry, and layout checks."""
from .coco_object import COCOObjectDataset  # noqa: F401  (registers the dataset)
from .layout import DatasetLayoutError, check_dataset_layout
from .sample_scenes import SampleScenesDataset
from .transforms import ImageCorruption  # noqa: F401  (registers the transform)
from .voc20 import PascalVOC20Dataset

__all__ = ['DatasetLayoutError', 'check_dataset_layout', 'SampleScenesDataset',
           'PascalVOC20Dataset']
