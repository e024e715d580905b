"""COCO-Object: COCO val2017 with the 80 thing classes and a background class."""
from mmseg.datasets import BaseSegDataset, COCOStuffDataset
from mmseg.registry import DATASETS

NUM_THINGS = 80


@DATASETS.register_module()
class COCOObjectDataset(BaseSegDataset):
    """COCO-Object, the with-background benchmark of the training-free protocol (SCLIP et al.).

    81 classes: 0 = background (every pixel outside the thing instances), 1..80 = COCO's 80 thing
    categories in category-id order (mmseg's ``COCOStuffDataset`` names). Labels are written by
    ``tools/dataset_converters/coco_object.py`` from COCO's instance annotations as
    ``annotations/<split>/<image id>_instanceTrainIds.png`` next to COCO-Stuff's
    ``*_labelTrainIds.png``, so the images are those of ``data/coco_stuff164k/images/<split>``.
    Nothing is ignored (255 would be).
    """
    METAINFO = dict(
        classes=('background', ) + COCOStuffDataset.METAINFO['classes'][:NUM_THINGS],
        palette=[[0, 0, 0]] + COCOStuffDataset.METAINFO['palette'][:NUM_THINGS])

    def __init__(self,
                 img_suffix='.jpg',
                 seg_map_suffix='_instanceTrainIds.png',
                 reduce_zero_label=False,
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)
