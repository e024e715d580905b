"""The ImageNet-C corruptions of MaskCLIP's robustness tables (Table 1b and supplementary
Table 4): their names only.

Kept apart from the transform (:mod:`maskclip.datasets.transforms.corruption`, which needs cv2,
mmcv and mmseg) so that reading the reproduction table or parsing tools/robustness.py's options
imports no heavy package.
"""

#: {corruption: its row name in MaskCLIP's Table 4}, in that table's row order
CORRUPTIONS = {
    'gaussian_noise': 'Gaussian Noise',
    'shot_noise': 'Shot Noise',
    'impulse_noise': 'Impulse Noise',
    'speckle_noise': 'Speckle Noise',
    'gaussian_blur': 'Gaussian Blur',
    'defocus_blur': 'Defocus Blur',
    'spatter': 'Spatter',
    'jpeg_compression': 'JPEG',
}
#: ImageNet-C's severity levels
SEVERITIES = (1, 2, 3, 4, 5)
