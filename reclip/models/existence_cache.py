"""Precomputed class existence (Sec. 3.4), written by ``tools/cache_class_existence.py``.

The cache is JSON: the vocabulary it was computed for and, per image id (file name without
folder and extension), the indices of the classes taken to be present in the whole image.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Dict, Sequence

import torch


def image_id(path: str) -> str:
    """The key of an image in the cache: its file name without folder and extension."""
    return osp.splitext(osp.basename(path))[0]


class ExistenceCache:
    """Look up the present classes of a batch by the images' file names."""

    def __init__(self, present: Dict[str, Sequence[int]], num_classes: int, path: str = ''):
        self.present = present
        self.num_classes = num_classes
        self.path = path

    def lookup(self, data_samples, device=None) -> torch.Tensor:
        """(B, K) bool, from each sample's ``img_path``."""
        rows = torch.zeros(len(data_samples), self.num_classes, dtype=torch.bool)
        for row, sample in zip(rows, data_samples):
            key = image_id(sample.metainfo.get('img_path') or '')
            if key not in self.present:
                raise KeyError(f"Image '{key}' is not in the class-existence cache {self.path}; "
                               'rebuild it for this dataset with tools/cache_class_existence.py '
                               'or drop existence_cache to compute existence online.')
            row[list(self.present[key])] = True
        return rows.to(device)


def save_existence_cache(path: str, class_names: Sequence[str], present: Dict[str, list],
                         **settings) -> None:
    with open(path, 'w') as f:
        json.dump(dict(class_names=list(class_names), settings=settings, present=present), f)


def load_existence_cache(path: str, class_names: Sequence[str]) -> ExistenceCache:
    """Read a cache, checking that it was computed for ``class_names``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'Class-existence cache {path} not found; create it with '
                                '`python tools/cache_class_existence.py CONFIG --out PATH`.')
    with open(path) as f:
        data = json.load(f)
    if list(data.get('class_names', [])) != list(class_names):
        raise ValueError(f'The class-existence cache {path} was computed for other classes '
                         f"({data.get('class_names', [])[:5]}...) than the config's "
                         f'({list(class_names)[:5]}...); rebuild it for this config.')
    return ExistenceCache(data['present'], len(class_names), path)
