"""ReCLIP's modules (registered into mmseg's MODELS on import)."""
from reclip.models.rectification_head import ReCLIPRectificationHead
from reclip.models.segmentors import ReCLIPDistillSegmentor, ReCLIPRectificationSegmentor
from reclip.models.student_classifier import STUDENT_HEADS, RectifiedTextClassifier

__all__ = ['ReCLIPRectificationHead', 'ReCLIPRectificationSegmentor', 'ReCLIPDistillSegmentor',
           'RectifiedTextClassifier', 'STUDENT_HEADS']
