"""Helpers shared by the dataset converters: input checks, label remapping, PNG I/O, progress.

The converters are standalone scripts (``python tools/dataset_converters/NAME.py ...``) that
import from here, so that no conversion step is written
twice. Labels are written as single-channel 8-bit PNGs (mode ``L``) whose pixel value is the
class index, which is what mmseg's ``LoadAnnotations`` reads.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import os.path as osp
import shutil
import sys
import tarfile
import tempfile
import zipfile
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

# Python >= 3.11.4 can refuse links and devices in tar members; older ones get the path check only.
_TAR_FILTER = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
README_HINT = 'see data/README.md for where to download it'


class ConverterInputError(FileNotFoundError):
    """An input of a converter is missing or not in the expected raw format."""


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Report a missing or malformed input as one clear message and exit with status 2."""
    try:
        yield
    except (ConverterInputError, ValueError) as error:
        print(f'\nERROR: {error}', file=sys.stderr)
        raise SystemExit(2) from None


def require_dir(path: str, what: str, fix: str = README_HINT) -> str:
    if not osp.isdir(path):
        raise ConverterInputError(f'{what} not found: {path!r}.\nFix: {fix}.')
    return path


def require_file(path: str, what: str, fix: str = README_HINT) -> str:
    if not osp.isfile(path):
        raise ConverterInputError(f'{what} not found: {path!r}.\nFix: {fix}.')
    return path


def read_lines(path: str) -> list[str]:
    """Non-empty, stripped lines of a split file."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def write_lines(path: str, lines: Iterable[str]) -> int:
    """Write one entry per line (creating the folder); returns the number of lines."""
    lines = list(lines)
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w') as f:
        f.writelines(f'{line}\n' for line in lines)
    return len(lines)


def find_files(root: str, suffix: str) -> list[str]:
    """Paths relative to ``root`` of every file ending with ``suffix``, at any depth, sorted."""
    found = []
    for directory, _, files in os.walk(root, followlinks=True):
        rel_dir = osp.relpath(directory, root)
        for name in files:
            if name.endswith(suffix):
                found.append(name if rel_dir == '.' else osp.join(rel_dir, name))
    return sorted(found)


def make_lut(mapping: dict, size: int = 256, fill: int = 255) -> np.ndarray:
    """A lookup table ``lut[raw] = new`` (uint8); raw values not in ``mapping`` get ``fill``."""
    lut = np.full(size, fill, np.uint8)
    for raw, new in mapping.items():
        lut[raw] = new
    return lut


def remap(label: np.ndarray, lut: np.ndarray, source: str = '') -> np.ndarray:
    """``lut[label]``, refusing raw values that the table does not cover."""
    if label.size and int(label.max()) >= len(lut):
        bad = np.unique(label[label >= len(lut)])[:10].tolist()
        raise ValueError(f'{source}: raw label values {bad} are outside the known range '
                         f'0..{len(lut) - 1}')
    return lut[label]


def read_label(path: str) -> np.ndarray:
    """A single-channel label map; palette PNGs give their indices (not the colours)."""
    with Image.open(path) as image:
        if image.mode not in ('L', 'P', 'I', 'I;16'):
            raise ValueError(f'{path}: a label PNG must be single-channel (mode L or P), '
                             f'got mode {image.mode}')
        return np.array(image)


def save_label(label: np.ndarray, path: str) -> None:
    """Write ``label`` (values 0..255) as an 8-bit single-channel PNG, creating the folder."""
    if label.size and (label.min() < 0 or label.max() > 255):
        raise ValueError(f'{path}: label values must lie in 0..255, got '
                         f'{label.min()}..{label.max()}')
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    Image.fromarray(label.astype(np.uint8), mode='L').save(path)


def progress(items: Iterable, desc: str, total: int | None = None) -> Iterable:
    """``items`` with a tqdm progress bar (on stderr)."""
    return tqdm(items, desc=desc, total=total, unit='file', dynamic_ncols=True)


def parallel_map(fn: Callable, items: Sequence, nproc: int = 1, desc: str = '') -> list:
    """``[fn(item) for item in items]`` with a progress bar, over ``nproc`` processes if > 1."""
    if nproc <= 1 or len(items) < 2:
        return [fn(item) for item in progress(items, desc)]
    chunksize = max(1, min(64, len(items) // (4 * nproc)))
    with multiprocessing.Pool(nproc) as pool:
        return list(progress(pool.imap(fn, items, chunksize=chunksize), desc, len(items)))


def extract_archive(archive: str, dest: str) -> None:
    """Unpack a ``.zip`` or ``.tar(.gz)`` into ``dest``, refusing members that escape it."""
    os.makedirs(dest, exist_ok=True)
    root = osp.realpath(dest)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            _refuse_escaping(root, [m.filename for m in members], archive)
            for member in progress(members, f'extracting {osp.basename(archive)}'):
                zf.extract(member, dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            _refuse_escaping(root, [m.name for m in members], archive)
            for member in progress(members, f'extracting {osp.basename(archive)}'):
                tf.extract(member, dest, **_TAR_FILTER)
    else:
        raise ConverterInputError(f'{archive!r} is neither a zip nor a tar archive.\n'
                                  'Fix: pass the downloaded archive or the folder it unpacks to.')


def _refuse_escaping(root: str, names: list[str], archive: str) -> None:
    for name in names:
        target = osp.realpath(osp.join(root, name))
        if target != root and not target.startswith(root + os.sep):
            raise ConverterInputError(f'{archive!r} holds a path outside its folder: {name!r}.')


@contextlib.contextmanager
def unpacked(source: str, what: str, fix: str = README_HINT) -> Iterator[str]:
    """A folder with ``source``'s contents: the folder itself, or an archive unpacked to a
    temporary folder that is removed afterwards."""
    if osp.isdir(source):
        yield source
        return
    require_file(source, what, fix)
    tmp = tempfile.mkdtemp(prefix='unpacked_')
    try:
        extract_archive(source, tmp)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
