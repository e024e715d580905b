"""Prompt templates: the 85 used by MaskCLIP (80 CLIP ImageNet + 5 scene templates) and one."""
from __future__ import annotations

from typing import Sequence, Union

from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

#: CLIP's 80 ImageNet prompt templates as format strings.
IMAGENET_TEMPLATES = tuple(template('{}') for template in OPENAI_IMAGENET_TEMPLATES)
#: The 5 scene templates MaskCLIP adds (ViLD's prompt engineering).
SCENE_TEMPLATES = (
    'there is a {} in the scene.',
    'there is the {} in the scene.',
    'this is a {} in the scene.',
    'this is the {} in the scene.',
    'this is one {} in the scene.',
)
VILD_TEMPLATES = IMAGENET_TEMPLATES + SCENE_TEMPLATES
SINGLE_TEMPLATES = ('a photo of a {}.',)

NAMED_TEMPLATES = {'vild': VILD_TEMPLATES, 'imagenet': IMAGENET_TEMPLATES,
                   'single': SINGLE_TEMPLATES}


def resolve_templates(templates: Union[str, Sequence[str]]) -> tuple[str, ...]:
    """Turn ``'vild'`` / ``'single'`` / ``'imagenet'`` or a list of ``'...{}...'`` strings into a tuple."""
    if isinstance(templates, str):
        if templates not in NAMED_TEMPLATES:
            raise ValueError(f"Unknown template set '{templates}'; use one of "
                             f'{sorted(NAMED_TEMPLATES)} or a list of strings containing "{{}}".')
        return NAMED_TEMPLATES[templates]
    templates = tuple(templates)
    if not templates:
        raise ValueError('The template list is empty; give at least one string containing "{}".')
    bad = [t for t in templates if not isinstance(t, str) or t.count('{}') != 1]
    if bad:
        raise ValueError(f'Each template must contain exactly one "{{}}" for the class name: {bad}')
    return templates
