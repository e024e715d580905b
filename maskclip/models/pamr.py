"""Pixel-adaptive mask refinement (PAMR; Araslanov & Roth, "Single-Stage Semantic Segmentation
from Image Labels", CVPR 2020), the post-processing SCLIP-style training-free methods may apply.

Every pixel ``i`` repeatedly takes a weighted average of its class scores at its neighbours ``j``,
weighted by how alike their colours are:

* neighbours ``N(i)``: for every dilation ``d`` the 8 pixels at offsets ``d * (dy, dx)``,
  ``dy, dx in {-1, 0, 1}``, ``(dy, dx) != (0, 0)``; pixels outside the image take the value of
  the nearest border pixel (replicate padding). ``P = 8 * len(dilations)`` neighbours.
* local colour spread ``sigma_i^c``: the (unbiased) standard deviation of channel ``c`` over the
  ``9 * len(dilations)`` samples {i, N_d(i)} of every dilation (``i`` counted once per dilation).
* affinity logits ``k_ij = -(1/C) sum_c |I_i^c - I_j^c| / (1e-8 + 0.1 * sigma_i^c)``;
  affinities ``alpha_ij = softmax_{j in N(i)}(k_ij)`` (they sum to 1 over the neighbours).
* update, ``iterations`` times: ``m_i <- sum_{j in N(i)} alpha_ij m_j`` for every class map ``m``.

The affinities depend only on the image (computed once), and the update is linear in the masks,
so refining logits scaled by any factor gives the same result scaled by that factor. They are
also unchanged by a per-channel affine change of the colours (e.g. mean/std normalisation).
A region of constant colour is averaged with itself (its labels stay); across a colour edge the
weights vanish, so scores do not leak from one side to the other.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .options import check_number

#: the 8 neighbour directions (dy, dx), in the order of the authors' affinity kernels
DIRECTIONS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _shifted(padded: torch.Tensor, pad: int, dy: int, dx: int, size: tuple) -> torch.Tensor:
    """The view of a replicate-padded (B, C, H + 2 pad, W + 2 pad) map at offset (dy, dx)."""
    h, w = size
    return padded[:, :, pad + dy:pad + dy + h, pad + dx:pad + dx + w]


class PAMR(nn.Module):
    """Pixel-adaptive mask refinement of (B, K, H, W) class scores guided by a (B, C, H, W) image.

    Args:
        iterations: number of refinement steps (the authors use 10; SCLIP-style methods 10-50).
        dilations: neighbourhood dilations in pixels (authors: 1, 2, 4, 8, 12, 24).

    No parameters and no buffers: it adds nothing to a checkpoint.
    """

    def __init__(self, iterations: int = 10, dilations: Sequence[int] = (1, 2, 4, 8, 12, 24)):
        super().__init__()
        check_number('PAMR', 'iterations', iterations, low=0, integer=True)
        if isinstance(dilations, (str, bytes)) or not hasattr(dilations, '__iter__'):
            raise ValueError(f'PAMR: dilations must be a list of positive integers, got '
                             f'{dilations!r}.')
        dilations = tuple(dilations)
        if not dilations:
            raise ValueError('PAMR: dilations must be a list of positive integers, got ().')
        for d in dilations:
            check_number('PAMR', 'dilations', d, low=1, integer=True)
        dilations = tuple(int(d) for d in dilations)
        self.iterations = int(iterations)
        self.dilations = dilations

    def extra_repr(self) -> str:
        return f'iterations={self.iterations}, dilations={self.dilations}'

    def _neighbours(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        """The P neighbour views of ``x`` (dilation-major, then ``DIRECTIONS``)."""
        size = tuple(x.shape[-2:])
        for d in self.dilations:
            padded = F.pad(x, [d] * 4, mode='replicate')
            for dy, dx in DIRECTIONS:
                yield _shifted(padded, d, dy * d, dx * d, size)

    def affinities(self, image: torch.Tensor) -> torch.Tensor:
        """(B, P, H, W) neighbour weights ``alpha`` of every pixel (softmax over P)."""
        image = image.float()
        n = 9 * len(self.dilations)
        # two passes over the samples (centre once per dilation + neighbours): mean, then variance
        total = image * len(self.dilations)
        for neighbour in self._neighbours(image):
            total = total + neighbour
        mean = total / n
        squares = (image - mean).square() * len(self.dilations)
        for neighbour in self._neighbours(image):
            squares = squares + (neighbour - mean).square()
        scale = 1e-8 + 0.1 * (squares / (n - 1)).sqrt()
        logits = torch.stack([-((image - neighbour).abs() / scale).mean(dim=1)
                              for neighbour in self._neighbours(image)], dim=1)
        return logits.softmax(dim=1)

    def forward(self, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Refined masks, same shape and dtype as ``masks``.

        Args:
            image: (B, C, H, W) guidance image (any per-channel affine normalisation).
            masks: (B, K, h, w) class scores (logits or probabilities); resized bilinearly to
                (H, W) first if their size differs.
        """
        if image.shape[0] != masks.shape[0]:
            raise ValueError(f'PAMR: {image.shape[0]} images but {masks.shape[0]} masks.')
        dtype = masks.dtype
        if masks.shape[-2:] != image.shape[-2:]:
            masks = F.interpolate(masks, size=image.shape[-2:], mode='bilinear',
                                  align_corners=False)
        if self.iterations == 0:
            return masks
        alpha = self.affinities(image)
        masks = masks.float()
        for _ in range(self.iterations):
            refined = torch.zeros_like(masks)
            for p, neighbour in enumerate(self._neighbours(masks)):
                refined += alpha[:, p:p + 1] * neighbour
            masks = refined
        return masks.to(dtype)
