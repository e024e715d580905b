"""ReCLIP (CVPR 2024): rectify CLIP's class- and space-preference bias, then distil.

Builds on ``maskclip`` (encoders, text classifier, training tools); nothing in ``maskclip``
imports from here. ``reclip.models`` has the rectification stage (Reference prompt, positional
bias, rectification head and segmentor) and the distillation stage (student classifier and
segmentor); configs are in ``configs/reclip`` and ``tools/train.py`` runs both stages in order.
"""

from reclip import models  # noqa: F401  (registers the ReCLIP modules into mmseg's MODELS)
