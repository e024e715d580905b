"""docs/troubleshooting.md stays true: every message it quotes is still raised somewhere."""
import glob
import os.path as osp
import re

from ..conftest import ROOT


def quoted_messages():
    """The `code` fragments of the first column of the document's tables."""
    with open(osp.join(ROOT, 'docs', 'troubleshooting.md')) as f:
        rows = [line for line in f if line.startswith('| ') and not line.startswith('| message')]
    return [fragment for row in rows for fragment in re.findall(r'`([^`]+)`', row.split(' | ')[0])]


def generated_messages() -> str:
    """The option checks build their messages: one of each kind."""
    import pytest

    from maskclip.models.options import check_choice, check_flag, check_number
    texts = []
    for bad in (lambda: check_flag('M', 'x', 'off'), lambda: check_number('M', 'x', 5, high=1),
                lambda: check_choice('M', 'x', 'z', ('a', ))):
        with pytest.raises(ValueError) as error:
            bad()
        texts.append(str(error.value))
    return '\n'.join(texts)


def test_every_quoted_message_exists_in_the_code():
    sources = generated_messages()
    for pattern in ('maskclip/**/*.py', 'reclip/**/*.py', 'tools/**/*.py'):
        for path in glob.glob(osp.join(ROOT, pattern), recursive=True):
            with open(path) as f:
                sources += f.read()
    messages = quoted_messages()
    assert len(messages) >= 30
    missing = [m for m in messages if m not in sources and '...' not in m]
    assert not missing, f'quoted in docs/troubleshooting.md but raised nowhere: {missing}'
