"""Build-time option checks: a wrong type or range raises and names the option, before anything
runs (a truthy string such as 'off' must not switch a refinement on)."""
import pytest

from maskclip.models import MaskClipHead, MaskClipViT
from maskclip.models.options import check_choice, check_flag, check_number
from maskclip.models.pamr import PAMR
from maskclip.models.text_classifier import TextClassifier
from reclip.models import ReCLIPRectificationHead

from ..conftest import TINY_VIT

CLIP = dict(model_name=TINY_VIT, pretrained=None)


def test_the_checks():
    assert check_flag('M', 'flag', False) is False
    with pytest.raises(ValueError, match=r"^M: flag must be True or False, got 'off'\.$"):
        check_flag('M', 'flag', 'off')
    with pytest.raises(ValueError, match='got 1'):
        check_flag('M', 'flag', 1)
    assert check_number('M', 'x', 0.5, low=0, high=1) == 0.5
    assert check_number('M', 'x', None, low=0, optional=True) is None
    with pytest.raises(ValueError, match=r'^M: x must be a number in \[0, 1\], got 50\.$'):
        check_number('M', 'x', 50, low=0, high=1)
    with pytest.raises(ValueError, match=r'in \(0, inf\]'):
        check_number('M', 'x', 0, low=0, low_open=True)
    with pytest.raises(ValueError, match=r'in \[0, 1\)'):
        check_number('M', 'x', 1, low=0, high=1, high_open=True)
    with pytest.raises(ValueError, match=r'an integer in \[0, inf\], got 2\.5'):
        check_number('M', 'x', 2.5, low=0, integer=True)
    for bad in ('0.5', True, None):
        with pytest.raises(ValueError, match='x must be a number'):
            check_number('M', 'x', bad, low=0)
    with pytest.raises(ValueError, match=r"^M: c must be one of 'a', 'b', got 'z'\.$"):
        check_choice('M', 'c', 'z', ('a', 'b'))


def head(**options):
    return MaskClipHead(['cat', 'dog'], CLIP, templates='single', **options)


@pytest.mark.parametrize('option, value, expected', [
    ('key_smoothing', 'off', 'True or False'),
    ('prompt_denoising', 1, 'True or False'),
    ('pd_threshold', 50, r'\[0, 1\]'),
    ('pd_threshold', '0.5', 'a number'),
    ('ks_threshold', 2.0, r'\[0, 1\]'),
    ('ks_key_norm', 'row', "'channel', 'token'"),
    ('logit_scale', -1, r'\(0, inf\]'),
    ('bg_threshold', 0, r'\(0, 1\]'),
    ('area_threshold', 1.0, r'\[0, 1\)'),
    ('softmax_over', 'pixels', "'classes', 'names'"),
    ('dropout_ratio', 1.0, r'\[0, 1\)'),
    ('num_classes', 2.0, 'an integer'),
    ('pd_keep_top_class', 'yes', 'True or False'),
])
def test_head_options(option, value, expected):
    with pytest.raises(ValueError, match=f'MaskClipHead: {option} must be .*{expected}'):
        head(**{option: value})


@pytest.mark.parametrize('option, value, expected', [
    ('keys_through_out_proj', 'no', 'True or False'),
    ('naclip_std', 0, r'\(0, inf\]'),
    ('mlp_act', 'relu', "'gelu'"),
    ('ln_eps', 1.0, r'\(0, 1\)'),
    ('ln_eps_scope', 'some', "'all', 'blocks'"),
    ('pos_embed_resize', 'crop', "'size'"),
])
def test_encoder_options(option, value, expected):
    with pytest.raises(ValueError, match=f'MaskClipViT: {option} must be .*{expected}'):
        MaskClipViT(CLIP, **{option: value})


def test_pamr_segmentor_classifier_and_reclip_options():
    with pytest.raises(ValueError, match=r'PAMR: iterations must be an integer in \[0, inf\]'):
        PAMR(iterations=2.5)
    with pytest.raises(ValueError, match=r'PAMR: dilations must be an integer in \[1, inf\]'):
        PAMR(dilations=(1, 0))
    with pytest.raises(ValueError, match='PAMR: dilations must be a list'):
        PAMR(dilations=8)
    with pytest.raises(ValueError, match="TextClassifier: normalize_features must be True or"):
        TextClassifier(['cat'], CLIP, 'single', normalize_features='true')
    for option, value, expected in (('subtract', 'false', 'True or False'),
                                    ('temperature', 0, r'\(0, inf\]'),
                                    ('pd_threshold', 5, r'\[0, 1\]'),
                                    ('contrastive_rule', 'mine', "'paper', 'authors'")):
        with pytest.raises(ValueError,
                           match=f'ReCLIPRectificationHead: {option} must be .*{expected}'):
            ReCLIPRectificationHead(['cat', 'dog'], CLIP, templates='single',
                                    **{option: value})
    assert head(key_smoothing=True, pd_threshold=1, logit_scale=40).logit_scale == 40.0
