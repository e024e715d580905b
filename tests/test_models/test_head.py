"""MaskCLIP head: text classifier, synonyms, key smoothing (Eq. 5) and prompt denoising."""
import pytest
import torch
import torch.nn.functional as F

from maskclip.clip import ClipSpec
from maskclip.models import ClipFeatures, MaskClipHead
from maskclip.models.refinement import (REMOVED_LOGIT, key_smooth, prompt_denoise,
                                        reduce_synonyms)
from maskclip.text import class_text_embeddings, load_vocabulary, resolve_templates

from ..conftest import TINY_VIT

CLIP = dict(model_name=TINY_VIT, pretrained=None)


def features(b=2, c=32, d=64, h=5, w=6):
    return ClipFeatures(dense=torch.randn(b, c, h, w), keys=torch.randn(b, d, h, w),
                        global_embedding=torch.randn(b, c), pos_embed=torch.randn(1, d, h, w))


def direct_key_smoothing(logits, keys):
    """Eq. 5 with a loop: pred_i = sum_j cos(k_i, k_j) softmax(100 l)_j."""
    b, k, h, w = logits.shape
    out = torch.empty(b, k, h * w)
    for n in range(b):
        conf = torch.softmax(100 * logits[n].flatten(1), dim=0)  # (K, hw)
        key = keys[n].flatten(1)  # (D, hw)
        for i in range(h * w):
            cos = torch.stack([F.cosine_similarity(key[:, i], key[:, j], dim=0)
                               for j in range(h * w)])
            out[n, :, i] = (conf * cos).sum(dim=1)
    return out.view(b, k, h, w)


def test_key_smoothing_equals_eq5():
    logits, keys = torch.randn(2, 4, 3, 4) * 0.1, torch.randn(2, 8, 3, 4)
    torch.testing.assert_close(key_smooth(logits, keys), direct_key_smoothing(logits, keys),
                               atol=1e-5, rtol=1e-5)


def test_key_smoothing_threshold_and_token_norm():
    logits, keys = torch.randn(1, 3, 4, 4) * 0.05, torch.randn(1, 8, 4, 4)
    conf = torch.softmax(100 * logits, dim=1)
    smoothed = key_smooth(logits, keys)
    thr = float(conf.amax(1).median())
    partial = key_smooth(logits, keys, threshold=thr)
    low = conf.amax(1, keepdim=True).expand_as(conf) < thr
    assert low.any() and (~low).any()
    torch.testing.assert_close(partial[low], smoothed[low])   # smoothed where unsure
    torch.testing.assert_close(partial[~low], conf[~low])     # left alone where confident
    # the authors' variant normalises keys over positions instead of channels
    k = F.normalize(keys.flatten(2)[0], dim=1)  # (D, hw) normalised along hw
    expected = (k.T @ k) @ conf.flatten(2)[0].T
    torch.testing.assert_close(key_smooth(logits, keys, key_norm='token')[0].flatten(1),
                               expected.T, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="key_norm must be 'channel' or 'token'"):
        key_smooth(logits, keys, key_norm='rows')


def test_prompt_denoising_removes_classes_below_threshold_everywhere():
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 0] = 0.30                 # dominant class: confidence ~1 everywhere
    logits[0, 1, 0, 0] = 0.30           # ties with class 0 at one position: confidence 0.5
    logits[0, 2] = 0.25                 # always well below 0.5
    logits[0, 2, 0, 0] = 0.0
    conf = torch.softmax(100 * logits, dim=1)
    assert conf[0, 1].max() >= 0.5 - 1e-6 and conf[0, 2].max() < 0.5
    out = prompt_denoise(logits, threshold=0.49)
    assert torch.equal(out[0, :2], logits[0, :2])
    assert torch.all(out[0, 2] == REMOVED_LOGIT)
    # a class whose peak is just under the threshold goes too
    assert torch.all(prompt_denoise(logits, threshold=0.51)[0, 1] == REMOVED_LOGIT)


def test_prompt_denoising_keeps_the_best_class_of_an_image():
    logits = torch.zeros(1, 4, 2, 2)  # four-way tie: every confidence is 0.25 < 0.5
    out = prompt_denoise(logits, threshold=0.5)
    assert (out[0].flatten(1) != REMOVED_LOGIT).all(dim=1).sum() == 1


def test_reduce_synonyms_takes_the_max_per_class():
    logits = torch.randn(2, 5, 3, 3)
    name_to_class = torch.tensor([0, 0, 1, 2, 2])
    out = reduce_synonyms(logits, name_to_class, 3)
    torch.testing.assert_close(out[:, 0], logits[:, :2].amax(1))
    torch.testing.assert_close(out[:, 1], logits[:, 2])
    torch.testing.assert_close(out[:, 2], logits[:, 3:].amax(1))


def test_head_logits_are_cosines_with_template_averaged_text():
    head = MaskClipHead(class_names=['cat, kitten', 'dog'], clip=CLIP, templates='single')
    feats = features()
    emb = class_text_embeddings(ClipSpec(TINY_VIT, None), load_vocabulary(['cat, kitten', 'dog']),
                                resolve_templates('single'))
    cos = torch.einsum('bchw,nc->bnhw', F.normalize(feats.dense, dim=1), emb)
    expected = torch.stack([cos[:, :2].amax(1), cos[:, 2]], dim=1)
    out = head(feats)
    assert out.shape == (2, 2, 5, 6)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    assert head.class_names == ('cat', 'dog') and head.num_classes == 2
    assert not any(p.requires_grad for p in head.parameters())
    assert 'text_embeddings' not in head.state_dict()  # open vocabulary: not tied to checkpoints


def test_head_applies_pd_then_ks():
    kwargs = dict(class_names=['cat', 'dog', 'car'], clip=CLIP, templates='single')
    plain = MaskClipHead(**kwargs)
    both = MaskClipHead(**kwargs, key_smoothing=True, prompt_denoising=True, pd_threshold=0.6)
    feats = features()
    expected = key_smooth(prompt_denoise(plain(feats), 0.6), feats.keys)
    torch.testing.assert_close(both(feats), expected)


def test_head_configuration_errors():
    with pytest.raises(ValueError, match='num_classes=3 but the class names hold 2'):
        MaskClipHead(class_names=['cat', 'dog'], clip=CLIP, num_classes=3, templates='single')
    with pytest.raises(ValueError, match='in_channels=512 does not match the CLIP embedding size 32'):
        MaskClipHead(class_names=['cat'], clip=CLIP, in_channels=512, templates='single')
    with pytest.raises(ValueError, match='appears in classes 0 and 1'):
        MaskClipHead(class_names=['cat', 'cat'], clip=CLIP, templates='single')
