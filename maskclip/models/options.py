"""Build-time checks of module options: a wrong type or range raises, naming the option.

A config value of the wrong type is otherwise accepted silently and changes the result: the
string ``key_smoothing='off'`` is truthy and turns key smoothing on, ``pd_threshold=50`` (meant
0.5) keeps no class and makes every image one class. Every option of our encoders, heads and
segmentors goes through one of these checks in the module's ``__init__``, so a bad value stops
the build with ``ValueError: MaskClipHead: pd_threshold must lie in [0, 1], got 50``.
"""
from __future__ import annotations

import numbers
from typing import Iterable, Optional


def _fail(owner: str, name: str, expected: str, value) -> None:
    raise ValueError(f'{owner}: {name} must be {expected}, got {value!r}.')


def check_flag(owner: str, name: str, value) -> bool:
    """A real bool (not a string such as ``'off'``, which Python reads as true)."""
    if not isinstance(value, bool):
        _fail(owner, name, 'True or False', value)
    return value


def check_number(owner: str, name: str, value, *, low: Optional[float] = None,
                 high: Optional[float] = None, low_open: bool = False, high_open: bool = False,
                 integer: bool = False, optional: bool = False):
    """A number (an int if ``integer``) in the interval given by ``low`` / ``high``;
    ``low_open`` / ``high_open`` exclude the bound. ``None`` passes if ``optional``."""
    if value is None and optional:
        return value
    kind = numbers.Integral if integer else numbers.Real
    left = '(' if low_open else '['
    right = ')' if high_open else ']'
    interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    what = 'an integer' if integer else 'a number'
    expected = f'{what} in {interval}' + (' (or None)' if optional else '')
    if isinstance(value, bool) or not isinstance(value, kind):
        _fail(owner, name, expected, value)
    if low is not None and (value <= low if low_open else value < low):
        _fail(owner, name, expected, value)
    if high is not None and (value >= high if high_open else value > high):
        _fail(owner, name, expected, value)
    return value


def check_choice(owner: str, name: str, value, choices: Iterable, optional: bool = False):
    """One of ``choices`` (``None`` passes if ``optional``)."""
    choices = tuple(choices)
    if value is None and optional:
        return value
    if value not in choices:
        listed = ', '.join(repr(c) for c in choices)
        _fail(owner, name, f'one of {listed}' + (' (or None)' if optional else ''), value)
    return value
