"""Keeping freed memory on the CPU (glibc's malloc thresholds)."""
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_keep_freed_memory_saves_the_page_faults_of_reallocation():
    """Twenty times a 16 MB array and its double (two live buffers, as a layer's input and
    output), then both freed: glibc's default hands the top of the heap back and faults fresh
    pages in each time (one fault per 4 KiB); after keep_freed_memory() the first pages are
    reused. Run in fresh interpreters (the setting is for the whole process), loading only the
    module."""
    script = '\n'.join([
        'import importlib.util, resource, sys', 'import numpy as np',
        f"spec = importlib.util.spec_from_file_location('m', {osp.join(ROOT, 'maskclip', 'utils', 'cpu_memory.py')!r})",
        'module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)',
        "applied = module.keep_freed_memory() if sys.argv[1] == 'keep' else False",
        'start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt',
        'for _ in range(20):', '    a = np.ones(4 << 20, np.float32); b = a * 2; del a, b',
        'print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)'])
    if not sys.platform.startswith('linux'):
        pytest.skip('glibc only')
    results = {}
    for how in ('default', 'keep'):
        out = subprocess.run([sys.executable, '-c', script, how], capture_output=True,
                             text=True, check=True).stdout.split()
        results[how] = (out[0] == 'True', int(out[1]))
    assert results['keep'][0] and not results['default'][0]
    # the kernel faults a few pages in at a time: compare the counts rather than with pages
    assert results['default'][1] > 5 * results['keep'][1], results
