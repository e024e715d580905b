"""ImageNet-C corruptions as a test-pipeline transform (MaskCLIP paper Sec. 4.1, Tables 1b, 4, 5).

The corruptions come from the ``imagecorruptions`` package (the ImageNet-C code of Hendrycks &
Dietterich, packaged), not re-implemented here. ``imagecorruptions`` 1.1.2 predates numpy 2 and
scikit-image >= 0.19; :func:`load_imagecorruptions` applies a small compatibility shim to *its*
module namespace (site-packages are never edited, skimage itself is left alone):

* ``gaussian(..., multichannel=True)`` (gaussian_blur, glass_blur): scikit-image removed
  ``multichannel``; it becomes ``channel_axis=-1``, the same filter.
* impulse_noise calls ``skimage.util.random_noise`` without ``rng``, and scikit-image then draws
  from a fresh, unseeded generator: the noise ignored every seed. It now gets an ``rng`` drawn from
  numpy's global RNG, like every other corruption of the package.
* ``pkg_resources`` (setuptools < 81 only) and ``scipy.ndimage.interpolation`` (deprecated) are
  imported at module level; where they are missing, a stand-in exists during that import only.
"""
from __future__ import annotations

import copy
import functools
import importlib.util
import inspect
import numbers
import os.path as osp
import sys
import types
import warnings
import zlib
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from maskclip.corruptions import CORRUPTIONS, SEVERITIES

INSTALL_HINT = 'pip install imagecorruptions (or re-run bash tools/install.sh)'


class _Proxy:
    """A module as one caller sees it: ``overrides`` first, everything else from ``target``."""

    def __init__(self, target, **overrides):
        self._target = target
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._target, name)


def _gaussian_with_multichannel(gaussian):
    """skimage's ``gaussian`` that still accepts the removed ``multichannel`` flag."""
    @functools.wraps(gaussian)
    def wrapper(image, *args, multichannel=None, **kwargs):
        if multichannel:
            kwargs.setdefault('channel_axis', -1)
        return gaussian(image, *args, **kwargs)
    return wrapper


def _random_noise_from_global_rng(random_noise):
    """skimage's ``random_noise`` whose default generator is seeded from numpy's global RNG."""
    @functools.wraps(random_noise)
    def wrapper(image, *args, rng=None, **kwargs):
        if rng is None:
            rng = int(np.random.randint(0, 2**31 - 1))
        return random_noise(image, *args, rng=rng, **kwargs)
    return wrapper


def _import_with_stand_ins():
    """Import ``imagecorruptions``; stand in for module-level imports newer stacks removed."""
    stand_ins = {}
    if importlib.util.find_spec('pkg_resources') is None:  # used by the 'frost' corruption only
        from importlib.resources import files
        stand_ins['pkg_resources'] = types.SimpleNamespace(
            resource_filename=lambda package, name: str(files(package) / name))
    if importlib.util.find_spec('scipy.ndimage.interpolation') is None:
        import scipy.ndimage
        stand_ins['scipy.ndimage.interpolation'] = scipy.ndimage
    added = [name for name in stand_ins if name not in sys.modules]
    sys.modules.update({name: stand_ins[name] for name in added})
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
            warnings.filterwarnings('ignore', category=DeprecationWarning)
            import imagecorruptions
            from imagecorruptions import corruptions
    finally:
        for name in added:
            sys.modules.pop(name, None)
    return imagecorruptions, corruptions


@functools.lru_cache(maxsize=None)
def load_imagecorruptions():
    """The ``imagecorruptions`` package, made to run on this stack (see the module docstring)."""
    try:
        imagecorruptions, corruptions = _import_with_stand_ins()
    except ImportError as error:
        raise ImportError(f'ImageCorruption needs the imagecorruptions package ({error}): '
                          f'{INSTALL_HINT}.') from error
    import skimage
    import skimage.filters
    import skimage.util
    if 'multichannel' not in inspect.signature(skimage.filters.gaussian).parameters:
        corruptions.gaussian = _gaussian_with_multichannel(skimage.filters.gaussian)
    if 'rng' in inspect.signature(skimage.util.random_noise).parameters:
        util = _Proxy(skimage.util,
                      random_noise=_random_noise_from_global_rng(skimage.util.random_noise))
        corruptions.sk = _Proxy(skimage, util=util)
    return imagecorruptions


def check_corruption(corruption: str, severity) -> None:
    """Raise ``ValueError`` naming the valid choices if the corruption or severity is unknown."""
    if corruption not in CORRUPTIONS:
        raise ValueError(f'Unknown corruption {corruption!r}; choose one of '
                         f'{", ".join(CORRUPTIONS)}.')
    if (isinstance(severity, bool) or not isinstance(severity, numbers.Integral)
            or severity not in SEVERITIES):
        raise ValueError(f'Corruption severity must be an integer from 1 to 5, got {severity!r}.')


def image_seed(seed: int, img_path: Optional[str]) -> int:
    """The seed of one image: ``seed`` mixed with the file name (not the directory).

    Different images get different noise, and an image gets the same noise in every run, every
    dataloader worker and wherever the dataset lives. Without a path, ``seed`` itself.
    """
    if img_path is None:
        return int(seed)
    name_hash = zlib.crc32(osp.basename(str(img_path)).encode('utf-8'))
    return int(np.random.SeedSequence([int(seed), name_hash]).generate_state(1)[0])


def corrupt_rgb(rgb: np.ndarray, corruption: str, severity: int, seed: int) -> np.ndarray:
    """``imagecorruptions.corrupt`` under ``seed``; numpy's global RNG is left as it was."""
    corrupt = load_imagecorruptions().corrupt
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        return corrupt(rgb, severity=severity, corruption_name=corruption)
    finally:
        np.random.set_state(state)


@TRANSFORMS.register_module()
class ImageCorruption(BaseTransform):
    """Corrupt ``results['img']`` with an ImageNet-C corruption, deterministically.

    Put it right after ``LoadImageFromFile`` (``with_corruption`` does). The image is read as BGR
    by mmcv and corrupted as RGB (what ImageNet-C expects); shape and dtype are kept (HxWx3, HxW or
    HxWx1; uint8, or float holding 0..255 values). Each image is seeded by :func:`image_seed`.

    Args:
        corruption: one of :data:`CORRUPTIONS` (e.g. ``'gaussian_noise'``).
        severity: 1 (mild) to 5 (severe), as in ImageNet-C.
        seed: base seed; the same seed gives the same corrupted images.
        channels: ``'rgb'`` (default) hands ImageNet-C the image in RGB order, as it expects;
            ``'bgr'`` hands it mmcv's BGR array as if it were RGB, as the MaskCLIP authors'
            ``Corrupt`` transform (``mmseg/datasets/pipelines/transforms.py:1315-1333``) did.
            Only the colour-dependent corruptions (spatter's mud / water colours, JPEG's YCbCr)
            change; per-channel noise and blur are the same operation either way.
    """

    CHANNEL_ORDERS = ('rgb', 'bgr')

    def __init__(self, corruption: str, severity: int, seed: int = 0, channels: str = 'rgb'):
        check_corruption(corruption, severity)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f'ImageCorruption: seed must be a non-negative integer, got {seed!r}.')
        if channels not in self.CHANNEL_ORDERS:
            raise ValueError(f'channels must be one of {self.CHANNEL_ORDERS}, not {channels!r}.')
        self.channels = channels
        load_imagecorruptions()  # fail at pipeline build, not in a dataloader worker
        self.corruption = corruption
        self.severity = int(severity)
        self.seed = int(seed)

    def transform(self, results: dict) -> dict:
        img = results['img']
        seed = image_seed(self.seed, results.get('img_path'))
        results['img'] = self.corrupt_bgr(img, seed)
        return results

    def corrupt_bgr(self, img: np.ndarray, seed: int) -> np.ndarray:
        """Corrupt a BGR (or gray) image as RGB; same shape and dtype back."""
        if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (1, 3))):
            raise ValueError(f'ImageCorruption expects an HxW, HxWx1 or HxWx3 image, got shape '
                             f'{img.shape}; load images with color_type="color".')
        img8 = img if img.dtype == np.uint8 else np.clip(np.rint(img), 0, 255).astype(np.uint8)
        gray = img8.ndim == 2 or img8.shape[2] == 1
        flip = 1 if self.channels == 'bgr' else -1  # 'bgr': the array goes in as it is
        rgb = cv2.cvtColor(img8.reshape(img8.shape[:2]), cv2.COLOR_GRAY2RGB) if gray \
            else np.ascontiguousarray(img8[..., ::flip])
        out = corrupt_rgb(rgb, self.corruption, self.severity, seed)
        out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY) if gray else out[..., ::flip]
        return np.ascontiguousarray(out.reshape(img.shape)).astype(img.dtype, copy=False)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(corruption={self.corruption!r}, '
                f'severity={self.severity}, seed={self.seed}, channels={self.channels!r})')


def _is_loader(step) -> bool:
    """Whether a pipeline step is ``LoadImageFromFile`` (scoped names like 'mmseg.' included)."""
    if not isinstance(step, dict):
        return False
    return str(step.get('type', '')).split('.')[-1] == 'LoadImageFromFile'


def _corrupted(dataset: dict, transform: dict) -> tuple:
    """``dataset`` with ``transform`` after every ``LoadImageFromFile``, its wrapped datasets too.

    Returns ``(new config, number of insertions)``; configs are copied level by level, so a
    dataset config referenced twice is corrupted once in each place.
    """
    dataset, count = copy.copy(dataset), 0
    if isinstance(dataset.get('pipeline'), (list, tuple)):
        pipeline = []
        for step in dataset['pipeline']:
            pipeline.append(step)
            if _is_loader(step):
                pipeline.append(copy.deepcopy(transform))
                count += 1
        dataset['pipeline'] = pipeline
    if isinstance(dataset.get('dataset'), dict):  # RepeatDataset, ClassBalancedDataset
        dataset['dataset'], inserted = _corrupted(dataset['dataset'], transform)
        count += inserted
    if isinstance(dataset.get('datasets'), (list, tuple)):  # ConcatDataset
        children = [_corrupted(child, transform) if isinstance(child, dict) else (child, 0)
                    for child in dataset['datasets']]
        dataset['datasets'] = [child for child, _ in children]
        count += sum(inserted for _, inserted in children)
    return dataset, count


def with_corruption(dataset_cfg: dict, corruption: str, severity: int, seed: int = 0,
                    channels: str = 'rgb') -> dict:
    """A copy of a dataset config whose images are corrupted right after loading (before any
    resize, as the MaskCLIP authors' corruption configs); ``channels`` as ``ImageCorruption``."""
    check_corruption(corruption, severity)
    transform = dict(type='ImageCorruption', corruption=corruption, severity=severity, seed=seed,
                     channels=channels)
    dataset, count = _corrupted(copy.deepcopy(dataset_cfg), transform)
    if count == 0:
        raise ValueError('The test pipeline has no LoadImageFromFile step to put ImageCorruption '
                         'after; corruptions need images loaded from files.')
    return dataset
