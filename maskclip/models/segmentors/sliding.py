"""Sliding-window inference with the windows batched: the same windows and averaging as
mmseg's ``EncoderDecoder.slide_inference``, a few large forward passes instead of one per
window."""
from __future__ import annotations

from typing import List

import torch

from maskclip.models.options import check_number

#: windows per forward pass when ``test_cfg.window_batch_size`` is not set
WINDOW_BATCH_SIZE = 16


class BatchedSlideInference:
    """Mixin for an ``EncoderDecoder``: its ``slide_inference`` batches the windows."""

    def slide_inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """mmseg's sliding windows, the windows of all images of the batch run through the
        network ``test_cfg.window_batch_size`` at a time (default :data:`WINDOW_BATCH_SIZE`;
        1 is mmseg's and the authors' window-by-window loop). The windows, their order of
        accumulation and the averaging where they overlap are mmseg's
        (``EncoderDecoder.slide_inference``), so the scores equal the window-by-window ones up
        to float rounding; a larger batch keeps a GPU busy and costs ``window_batch_size``
        windows of activations."""
        window_batch = self.test_cfg.get('window_batch_size', WINDOW_BATCH_SIZE)
        check_number(type(self).__name__, 'test_cfg.window_batch_size', window_batch, low=1,
                     integer=True)
        h_stride, w_stride = self.test_cfg.stride
        h_crop, w_crop = self.test_cfg.crop_size
        batch_size, _, h_img, w_img = inputs.size()
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        windows = []
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y2 = min(h_idx * h_stride + h_crop, h_img)
                x2 = min(w_idx * w_stride + w_crop, w_img)
                windows.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
        # every window of every image, image-major: (image index, window)
        jobs = [(i, window) for i in range(batch_size) for window in windows]
        preds = inputs.new_zeros((batch_size, self.out_channels, h_img, w_img))
        count = inputs.new_zeros((batch_size, 1, h_img, w_img))
        for start in range(0, len(jobs), window_batch):
            chunk = jobs[start:start + window_batch]
            crops = torch.cat([inputs[i:i + 1, :, y1:y2, x1:x2]
                               for i, (y1, y2, x1, x2) in chunk])
            metas = [dict(batch_img_metas[i], img_shape=crops.shape[2:]) for i, _ in chunk]
            logits = self.encode_decode(crops, metas)
            for (i, (y1, y2, x1, x2)), logit in zip(chunk, logits):
                preds[i, :, y1:y2, x1:x2] += logit
                count[i, :, y1:y2, x1:x2] += 1
        return preds / count
