"""ReCLIP (CVPR 2024): rectify CLIP's class- and space-preference bias, then distil.

Builds on ``maskclip`` (encoders, text classifier, training tools); nothing in ``maskclip``
imports from here. Work in progress: the rectification building blocks are here; the
rectification / distillation segmentors, configs and the two-stage runner come next.
"""

from reclip import models  # noqa: F401  (registers the ReCLIP heads into mmseg's MODELS)
