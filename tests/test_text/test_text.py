"""Templates, class vocabularies, template averaging and the text-embedding cache."""
import os

import mmseg.datasets as mmseg_datasets
import open_clip
import pytest
import torch
import torch.nn.functional as F

from maskclip.clip import ClipSpec, load_clip
from maskclip.text import (IMAGENET_TEMPLATES, SCENE_TEMPLATES, VILD_TEMPLATES,
                           builtin_vocabularies, class_text_embeddings, encode_names,
                           load_vocabulary, resolve_templates)
from maskclip.text import embeddings as embeddings_module
from maskclip.text.embeddings import encode_text

from ..conftest import TINY_RN, TINY_VIT


def test_vild_templates_are_80_imagenet_plus_5_scene():
    assert len(IMAGENET_TEMPLATES) == 80 and len(SCENE_TEMPLATES) == 5
    assert len(VILD_TEMPLATES) == 85 and len(set(VILD_TEMPLATES)) == 85
    assert VILD_TEMPLATES[0] == 'a bad photo of a {}.'
    assert 'this is one {} in the scene.' in VILD_TEMPLATES
    assert resolve_templates('single') == ('a photo of a {}.',)
    assert resolve_templates(['a {} here.']) == ('a {} here.',)
    with pytest.raises(ValueError, match='exactly one'):
        resolve_templates(['no placeholder'])
    with pytest.raises(ValueError, match="Unknown template set 'vld'"):
        resolve_templates('vld')


@pytest.mark.parametrize('name', [TINY_VIT, TINY_RN])
def test_text_embeddings_equal_open_clip_encode_text(name):
    """Our (truncated) text path equals open_clip's encode_text on the same weights."""
    model = load_clip(name, None)
    tokenizer = open_clip.get_tokenizer(name)
    tokens = tokenizer(['a photo of a cat.', 'a bad photo of the hard to see potted plant.', 'x'])
    torch.testing.assert_close(encode_text(model, tokens), model.encode_text(tokens),
                               atol=1e-5, rtol=0)


def test_class_embedding_is_mean_of_normalised_templates_renormalised():
    model = load_clip(TINY_VIT, None)
    tokenizer = open_clip.get_tokenizer(TINY_VIT)
    templates = ('a photo of a {}.', 'a drawing of the {}.', 'there is a {} in the scene.')
    got = encode_names(model, tokenizer, ['cat', 'traffic light'], templates, progress=False)
    for row, name in zip(got, ['cat', 'traffic light']):
        per_template = model.encode_text(tokenizer([t.format(name) for t in templates]))
        expected = F.normalize(F.normalize(per_template, dim=-1).mean(0), dim=0)
        torch.testing.assert_close(row, expected, atol=1e-6, rtol=0)
    # the average of normalised vectors is not the normalised average of raw ones
    raw = F.normalize(model.encode_text(tokenizer([t.format('cat') for t in templates])).mean(0), dim=0)
    assert not torch.allclose(got[0], raw, atol=1e-4)


def test_builtin_vocabularies_match_mmseg_datasets():
    sizes = {'voc20': 20, 'voc21': 21, 'pascal_context_59': 59, 'pascal_context_60': 60,
             'coco_stuff_171': 171, 'ade20k_150': 150, 'cityscapes_19': 19}
    assert set(sizes) <= set(builtin_vocabularies())
    for name, size in sizes.items():
        assert len(load_vocabulary(name)) == size, name
    mmseg_sizes = {'voc21': mmseg_datasets.PascalVOCDataset,
                   'pascal_context_59': mmseg_datasets.PascalContextDataset59,
                   'pascal_context_60': mmseg_datasets.PascalContextDataset,
                   'coco_stuff_171': mmseg_datasets.COCOStuffDataset,
                   'ade20k_150': mmseg_datasets.ADE20KDataset,
                   'cityscapes_19': mmseg_datasets.CityscapesDataset}
    for name, dataset in mmseg_sizes.items():
        assert len(dataset.METAINFO['classes']) == sizes[name]
    assert load_vocabulary('voc21')[0][0] == 'background'
    assert load_vocabulary('voc21')[1:] == load_vocabulary('voc20')


def test_vocabulary_forms_and_synonyms(tmp_path):
    path = tmp_path / 'classes.txt'
    path.write_text('# my classes\nperson, people\n\ncar\n')
    assert load_vocabulary(str(path)) == (('person', 'people'), ('car',))
    assert load_vocabulary(['person, people', ['car', 'auto']]) == (
        ('person', 'people'), ('car', 'auto'))


@pytest.mark.parametrize('classes, message', [
    ([], 'no class names'),
    (['cat', ''], 'empty name'),
    (['cat, ', 'dog'], 'empty name'),
    (['cat', 'Cat'], "'Cat' appears in classes 0 and 1"),
    (['cat, kitty, cat'], 'twice in the same class'),
])
def test_bad_vocabularies_are_rejected(classes, message):
    with pytest.raises(ValueError, match=message):
        load_vocabulary(classes)


def test_unknown_vocabulary_name_lists_builtins():
    with pytest.raises(ValueError, match='pascal_context_59'):
        load_vocabulary('pascal_context_95')


def test_text_cache_is_reused_and_keyed(tmp_path, monkeypatch):
    spec = ClipSpec(TINY_VIT, None)
    vocab = load_vocabulary(['cat', 'dog'])
    first = class_text_embeddings(spec, vocab, ('a {}.',), cache_dir=str(tmp_path), progress=False)
    assert len(os.listdir(tmp_path)) == 1

    def no_clip(*args, **kwargs):
        raise AssertionError('CLIP must not be loaded on a cache hit')

    monkeypatch.setattr(embeddings_module, 'load_clip', no_clip)
    again = class_text_embeddings(spec, vocab, ('a {}.',), cache_dir=str(tmp_path))
    assert torch.equal(first, again)
    # any change of classes, templates or weights is a miss (and would need CLIP)
    for changed in [(spec, load_vocabulary(['cat', 'bird']), ('a {}.',)),
                    (spec, vocab, ('a {}!',)),
                    (ClipSpec(TINY_VIT, None, seed=1), vocab, ('a {}.',)),
                    (ClipSpec(TINY_RN, None), vocab, ('a {}.',))]:
        with pytest.raises(AssertionError, match='must not be loaded'):
            class_text_embeddings(*changed, cache_dir=str(tmp_path))
    monkeypatch.undo()
    other = class_text_embeddings(ClipSpec(TINY_VIT, None, seed=1), vocab, ('a {}.',),
                                  cache_dir=str(tmp_path), progress=False)
    assert not torch.allclose(other, first)
    assert len(os.listdir(tmp_path)) == 2


def test_corrupt_cache_entry_is_recomputed(tmp_path):
    spec = ClipSpec(TINY_VIT, None)
    vocab = load_vocabulary(['cat'])
    first = class_text_embeddings(spec, vocab, ('a {}.',), cache_dir=str(tmp_path), progress=False)
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(b'not a tensor file')
    again = class_text_embeddings(spec, vocab, ('a {}.',), cache_dir=str(tmp_path), progress=False)
    torch.testing.assert_close(again, first)
