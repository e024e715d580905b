"""Evaluation metrics registered into mmseg's METRICS registry."""
from .zero_shot_metric import ZeroShotIoUMetric

__all__ = ['ZeroShotIoUMetric']
