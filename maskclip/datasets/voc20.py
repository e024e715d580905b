"""PASCAL VOC 2012 with the 20 object classes only (no background)."""
import os.path as osp

import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class PascalVOC20Dataset(BaseSegDataset):
    """PASCAL VOC 2012 without the background class.

    MaskCLIP and ReCLIP report VOC results over the 20 object classes: a CLIP text prompt for
    "background" is ill-defined, so background pixels are ignored instead of predicted. The
    annotations are the ordinary VOC ``SegmentationClass`` maps; ``reduce_zero_label=True``
    (applied by mmseg's ``LoadAnnotations``) turns label 0 (background) into 255 (ignored) and
    shifts 1..20 to 0..19. The boundary label 255 stays 255.

    Args:
        ann_file (str): Split file listing image ids, e.g. ``ImageSets/Segmentation/val.txt``.
    """
    METAINFO = dict(
        classes=('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
                 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
                 'sheep', 'sofa', 'train', 'tvmonitor'),
        palette=[[128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128],
                 [0, 128, 128], [128, 128, 128], [64, 0, 0], [192, 0, 0], [64, 128, 0],
                 [192, 128, 0], [64, 0, 128], [192, 0, 128], [64, 128, 128], [192, 128, 128],
                 [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128]])

    def __init__(self,
                 ann_file='',
                 img_suffix='.jpg',
                 seg_map_suffix='.png',
                 reduce_zero_label=True,
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            ann_file=ann_file,
            reduce_zero_label=reduce_zero_label,
            **kwargs)
        assert fileio.exists(self.data_prefix['img_path'],
                             self.backend_args) and osp.isfile(self.ann_file)
