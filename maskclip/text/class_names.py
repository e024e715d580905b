"""Class vocabularies: one class per line, comma-separated synonyms.

A vocabulary is a list of classes, each a list of one or more names; prediction takes the maximum
over a class's names. Built-in files live in ``maskclip/text/class_names/`` and are referred to by
their stem (``'voc20'``, ``'pascal_context_59'``, ...). The field's files are shipped as they are:
``<dataset>_sclip`` (SCLIP's, which NACLIP shares: synonyms, and the background of VOC21 /
COCO-Object as 26 stuff words) and ``<dataset>_clearclip`` (ClearCLIP's plain names).

A name may belong to one class only (else two classes tie wherever it wins), unless the file has
the line ``# allow-shared-names``: SCLIP's COCO-Object file has 'bed' both among the background
words and as a class, and reproducing it needs both queries.
"""
from __future__ import annotations

import os.path as osp
import re
from glob import glob
from typing import Sequence, Union

CLASS_NAME_DIR = osp.join(osp.dirname(__file__), 'class_names')

Vocabulary = tuple[tuple[str, ...], ...]


def builtin_vocabularies() -> list[str]:
    """Names of the shipped class-name files."""
    return sorted(osp.splitext(osp.basename(p))[0] for p in glob(osp.join(CLASS_NAME_DIR, '*.txt')))


def parse_class_line(line: str) -> tuple[str, ...]:
    """``'person, people'`` -> ``('person', 'people')``."""
    return tuple(name.strip() for name in line.split(','))


#: the comment line that lets a class-name file give one name to several classes
ALLOW_SHARED_NAMES = '# allow-shared-names'


def read_class_file(path: str) -> Vocabulary:
    """Read a class-name file; blank lines and lines starting with '#' are skipped."""
    with open(path, encoding='utf-8') as f:
        lines = [line.rstrip('\n') for line in f]
    entries = [line for line in lines if line.strip() and not line.lstrip().startswith('#')]
    numbered = [re.match(r'\s*(\d+)\s*[:.,)\t -]\s*\S', line) for line in entries]
    if len(entries) > 1 and all(numbered) and [int(m.group(1)) for m in numbered] == list(
            range(int(numbered[0].group(1)), int(numbered[0].group(1)) + len(entries))):
        raise ValueError(f'{path}: every line starts with its number ({entries[0]!r}); the '
                         'numbers would become part of the text prompts. Write one class name '
                         'per line, in label order, without the numbers.')
    classes = [parse_class_line(line) for line in entries]
    shared = any(line.strip() == ALLOW_SHARED_NAMES for line in lines)
    return validate_vocabulary(classes, source=path, allow_shared_names=shared)


def load_vocabulary(spec: Union[str, Sequence[Union[str, Sequence[str]]]],
                    allow_shared_names: bool = False) -> Vocabulary:
    """A vocabulary from a built-in name, a file path, or a list of classes.

    List items are a class name (``'car'``), comma-separated synonyms (``'person, people'``) or a
    list of synonyms (``['person', 'people']``). ``allow_shared_names`` lets a list give one
    name to several classes (a file says so with the line ``# allow-shared-names``).
    """
    if isinstance(spec, str):
        if osp.isfile(spec):
            return read_class_file(spec)
        builtin = osp.join(CLASS_NAME_DIR, f'{spec}.txt')
        if osp.isfile(builtin):
            return read_class_file(builtin)
        raise ValueError(
            f"Class names '{spec}' are neither a file nor a built-in vocabulary. Built-ins: "
            f"{', '.join(builtin_vocabularies())}; or pass a list of names or a text file with "
            'one class per line (comma-separated synonyms).')
    classes = [parse_class_line(item) if isinstance(item, str) else tuple(
        str(name).strip() for name in item) for item in spec]
    return validate_vocabulary(classes, source='the class list',
                               allow_shared_names=allow_shared_names)


def validate_vocabulary(classes: Sequence[Sequence[str]], source: str,
                        allow_shared_names: bool = False) -> Vocabulary:
    """Reject empty vocabularies, empty names and names used twice (they make argmax ambiguous;
    ``allow_shared_names`` accepts a name in several classes, never twice in one)."""
    if not classes:
        raise ValueError(f'{source} holds no class names; give at least one class.')
    seen: dict[str, int] = {}
    for index, names in enumerate(classes):
        if not names or any(not name for name in names):
            raise ValueError(f'{source}: class {index} has an empty name ({list(names)!r}); remove '
                             'stray commas or blank entries.')
        for name in names:
            key = name.lower()
            if key in seen and (seen[key] == index or not allow_shared_names):
                where = 'twice in the same class' if seen[key] == index else \
                    f'in classes {seen[key]} and {index}'
                raise ValueError(f"{source}: the name '{name}' appears {where}; class names must "
                                 'be unique so that every pixel has one answer.')
            seen[key] = index
    return tuple(tuple(names) for names in classes)


def has_shared_names(vocabulary: Vocabulary) -> bool:
    """Whether some name belongs to several classes (only files that allow it load so)."""
    names = [name.lower() for names in vocabulary for name in set(names)]
    return len(names) != len(set(names))


def primary_names(vocabulary: Vocabulary) -> tuple[str, ...]:
    """The first name of every class (what tables and legends show)."""
    return tuple(names[0] for names in vocabulary)
