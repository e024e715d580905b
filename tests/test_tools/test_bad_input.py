"""Bad input through every entry point: one ``ERROR:`` line naming the problem and exit status
2, never a traceback and never a result. Table-driven: each case is a command line as a user
would type it (and the Python API's counterpart, in-process)."""
import os
import os.path as osp
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

import maskclip
from maskclip.clip import ClipWeightsError

from ..conftest import ROOT, TINY_VIT

SAMPLE = 'configs/maskclip/maskclip_vit-b16_sample-scenes-448x448.py'
PLUS = 'configs/maskclip_plus/maskclip-plus-vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py'
TINY = ['--cfg-options', f'model.clip.model_name={TINY_VIT}']


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Inputs the cases refer to: a plain state dict, a tiny image, a copy of the sample data
    with a damaged image, and one whose split is empty."""
    root = tmp_path_factory.mktemp('bad_input')
    from maskclip.clip import load_clip
    torch.save(load_clip(TINY_VIT, None).state_dict(), root / 'plain.pt')
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / 'tiny.png')
    damaged = root / 'damaged'
    shutil.copytree(osp.join(ROOT, 'data', 'sample_scenes'), damaged)
    image = damaged / 'img_dir' / 'val' / 'scene_003.jpg'
    image.write_bytes(b'not a jpeg at all' * 20)
    (root / 'empty.txt').write_text('')
    labels = root / 'labels'
    shutil.copytree(osp.join(ROOT, 'data', 'sample_scenes'), labels)
    label = labels / 'ann_dir' / 'val' / 'scene_002.png'
    values = np.array(Image.open(label))
    values[:4, :4] = 9  # the sample scenes have 8 classes: 0..7
    Image.fromarray(values).save(label)
    (root / 'numbered.txt').write_text('0 cat\n1 dog\n2 grass\n')
    (root / 'work').mkdir()
    return root


def sample_data(root):
    return [f'test_dataloader.dataset.data_root={root}']


CASES = {
    # name: (command line, message fragments)
    'config path': (['tools/test.py', 'configs/maskclip/nope.py'], ['nope.py', 'does not exist']),
    'misspelt option': (['tools/test.py', SAMPLE, '--random-weights', *TINY,
                         'model.decode_head.key_smothing=True'],
                        ['key_smothing', 'Check the spelling']),
    'truthy string flag': (['tools/test.py', SAMPLE, '--random-weights', *TINY,
                            'model.decode_head.key_smoothing=off'],
                           ['key_smoothing must be True or False', "'off'"]),
    'tta without pipeline': (['tools/test.py', SAMPLE, '--random-weights', '--tta', *TINY],
                             ['--tta', 'tta_pipeline']),
    'trained model without checkpoint': (['tools/test.py', PLUS, '--random-weights'],
                                         ['MaskCLIP+ learns weights', 'checkpoint']),
    'plain state dict': (['tools/test.py', SAMPLE, '--clip-weights', '{files}/plain.pt', *TINY],
                         ['plain state dict', 'quick_gelu=True']),
    'damaged image in the split': (['tools/test.py', SAMPLE, '--random-weights', *TINY,
                                    *sample_data('{files}/damaged')],
                                   ['scene_003.jpg', 'check_dataset']),
    'empty split': (['tools/test.py', SAMPLE, '--random-weights', *TINY,
                     'test_dataloader.dataset.ann_file={files}/empty.txt'],
                    ['empty.txt lists no images', 'check_dataset']),
    'slide stride over the crop': (['tools/test.py', SAMPLE, '--random-weights', *TINY,
                                    'model.test_cfg.mode=slide',
                                    'model.test_cfg.crop_size=(224,224)',
                                    'model.test_cfg.stride=(500,500)'],
                                   ['stride (500, 500) is larger than', 'crop_size']),
    'label values beyond the classes': (['tools/test.py', SAMPLE, '--random-weights', *TINY,
                                         *sample_data('{files}/labels')],
                                        ['scene_002.png has values [9]', 'check_dataset']),
    'negative corruption seed': (['tools/robustness.py', SAMPLE, '--random-weights',
                                  '--seed', '-1', '--corruptions', 'gaussian_noise',
                                  '--severities', '1', *TINY],
                                 ['seed must be a non-negative integer']),
    'resume in an empty work dir': (['tools/train.py', PLUS, '--random-weights', '--resume',
                                     '--work-dir', '{files}/work'],
                                    ['nothing to resume', 'work']),
    'check_dataset: config path': (['tools/check_dataset.py', 'configs/nope.py'],
                                   ['nope.py', 'does not exist']),
    'demo: class file that is not there': (['tools/demo.py', '{files}/tiny.png', '--classes',
                                            'my/classes.txt', '--random-weights'],
                                           ['my/classes.txt', 'no such class-name file']),
    'demo: numbered class file': (['tools/demo.py', '{files}/tiny.png', '--classes',
                                   '{files}/numbered.txt', '--random-weights'],
                                  ['every line starts with its number']),
    'demo: image smaller than a patch': (['tools/demo.py', '{files}/tiny.png', '--classes',
                                          'cat,dog', '--random-weights', '--model', TINY_VIT,
                                          '--out-dir', '{files}/out'],
                                         ['tiny.png', 'smaller than one 16x16 patch']),
}


@pytest.fixture(scope='module')
def results(files):
    """Every case's finished process, two at a time (each mostly waits on its imports)."""
    env = dict(os.environ, HF_HUB_OFFLINE='1', MASKCLIP_CACHE_DIR=str(files / 'cache'))
    env.pop('MASKCLIP_CLIP_WEIGHTS', None)

    def run(case):
        argv = [arg.replace('{files}', str(files)) for arg in CASES[case][0]]
        return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(CASES, pool.map(run, CASES)))


@pytest.mark.parametrize('case', list(CASES))
def test_tool_refuses_with_one_line(case, files, results):
    fragments = CASES[case][1]
    result = results[case]
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    error = result.stderr[result.stderr.index('ERROR: '):]
    for fragment in fragments:
        assert fragment.replace('{files}', str(files)) in error, (fragment, error)


def test_random_weights_with_the_environment_variable_names_it(files):
    env = dict(os.environ, HF_HUB_OFFLINE='1', MASKCLIP_CLIP_WEIGHTS=str(files / 'plain.pt'))
    result = subprocess.run([sys.executable, 'tools/test.py', SAMPLE, '--random-weights', *TINY],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert f'$MASKCLIP_CLIP_WEIGHTS={files}/plain.pt also chooses weights' in result.stderr


def test_the_api_refuses_the_same(files):
    with pytest.raises(ValueError, match='key_smoothing must be True or False'):
        maskclip.create_segmenter(TINY_VIT, None, ['cat'], templates='single',
                                  key_smoothing='off')
    with pytest.raises(ValueError, match=r'pd_threshold must be a number in \[0, 1\]'):
        maskclip.create_segmenter(TINY_VIT, None, ['cat'], templates='single',
                                  prompt_denoising=True, pd_threshold=50)
    with pytest.raises(ValueError, match='bgr_to_rgb must be True or False'):
        maskclip.create_segmenter(TINY_VIT, None, ['cat'], templates='single', bgr_to_rgb='no')
    with pytest.raises(ClipWeightsError, match='plain state dict'):
        maskclip.create_segmenter(TINY_VIT, str(files / 'plain.pt'), ['cat'], templates='single')
    with pytest.raises(ValueError, match='MaskCLIP\\+ learns weights'):
        maskclip.init_model(osp.join(ROOT, PLUS), clip_weights='random')
    segmenter = maskclip.create_segmenter(TINY_VIT, None, ['cat', 'dog'], templates='single')
    with pytest.raises(ValueError, match='8x8 pixels, smaller than one 16x16 patch'):
        segmenter.predict(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match='only reach 4080.*12-bit'):
        segmenter.predict(np.full((32, 32, 3), 4080, np.uint16))
    with pytest.raises(ValueError, match="device='gpu' is not a torch device"):
        maskclip.create_segmenter(TINY_VIT, None, ['cat'], templates='single', device='gpu')
    with pytest.raises(ValueError, match=r"pamr\['iterations'\] must be an integer"):
        maskclip.create_segmenter(TINY_VIT, None, ['cat'], templates='single',
                                  pamr=dict(iterations=-1, dilations=(8, 16)))
    with pytest.raises(ValueError, match='mean=.*0..1 scale'):
        maskclip.create_segmenter(TINY_VIT, None, ['cat'], templates='single',
                                  mean=[0.48, 0.46, 0.41], std=[0.27, 0.26, 0.28])
    with pytest.raises(ValueError, match='test_cfg.stride must be a pair'):
        maskclip.create_segmenter(TINY_VIT, None, ['cat'], templates='single',
                                  test_cfg=dict(mode='slide', crop_size=(32, 32)))
    # a long thin image keeps a short side of two patches instead of vanishing below max_size
    assert segmenter.predict(np.zeros((20, 3000, 3), np.uint8)).shape == (20, 3000)


def test_large_images_run_at_a_working_size_and_say_so(caplog):
    """Longer side over max_size: segmented resized, labels at the full size, a log line."""
    segmenter = maskclip.create_segmenter(TINY_VIT, None, ['cat', 'dog'], templates='single',
                                          max_size=64)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (96, 160, 3), dtype=np.uint8)
    labels = segmenter.predict(image)
    assert labels.shape == (96, 160)
    assert 'segmenting it at 64x38' in caplog.text and 'max_size=64' in caplog.text
    small = np.asarray(Image.fromarray(image).resize((64, 38), Image.BOX))
    native = maskclip.create_segmenter(TINY_VIT, None, ['cat', 'dog'], templates='single',
                                       max_size=None)
    expected = torch.nn.functional.interpolate(
        native.predict_logits(small)[None], size=(96, 160), mode='bilinear',
        align_corners=False)[0].argmax(0)
    assert torch.equal(labels, expected)  # the working-size scores, brought to full size
    with pytest.raises(ValueError, match='max_size must be None'):
        maskclip.create_segmenter(TINY_VIT, None, ['cat'], templates='single', max_size=8)
