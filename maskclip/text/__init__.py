"""The text side of MaskCLIP: templates, class vocabularies and their embeddings."""
from .class_names import (CLASS_NAME_DIR, builtin_vocabularies, has_shared_names, load_vocabulary,
                          primary_names, read_class_file)
from .embeddings import class_text_embeddings, default_cache_dir, encode_names
from .templates import (IMAGENET_TEMPLATES, SCENE_TEMPLATES, SINGLE_TEMPLATES, VILD_TEMPLATES,
                        resolve_templates)

__all__ = ['CLASS_NAME_DIR', 'builtin_vocabularies', 'has_shared_names', 'load_vocabulary', 'primary_names',
           'read_class_file', 'class_text_embeddings', 'default_cache_dir', 'encode_names',
           'IMAGENET_TEMPLATES', 'SCENE_TEMPLATES', 'SINGLE_TEMPLATES', 'VILD_TEMPLATES',
           'resolve_templates']
