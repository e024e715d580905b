"""The synthetic sample scenes shipped in ``data/sample_scenes``."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class SampleScenesDataset(BaseSegDataset):
    """Synthetic outdoor scenes painted by ``.dev_scripts/generate_sample_data.py``.

    Beach, countryside, city-street and mountain-lake pictures drawn as textured regions, with
    exact label maps (value = class index, 0..7; 255 would be ignored). No third-party content.
    Layout: ``img_dir/val/scene_XXX.jpg`` and ``ann_dir/val/scene_XXX.png``. The classes (first
    name of each line) follow ``maskclip/text/class_names/sample_scenes.txt``, which also lists
    the synonyms used as text prompts.
    """
    METAINFO = dict(
        classes=('sky', 'water', 'sand', 'grass', 'tree', 'road', 'building', 'mountain'),
        palette=[[120, 180, 240], [30, 80, 200], [230, 200, 120], [90, 200, 80], [20, 110, 40],
                 [128, 128, 128], [200, 80, 70], [140, 100, 180]])

    def __init__(self,
                 img_suffix='.jpg',
                 seg_map_suffix='.png',
                 reduce_zero_label=False,
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)
