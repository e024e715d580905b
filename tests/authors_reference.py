"""The MaskCLIP authors' released test pipeline, computed directly for parity tests.

Written from the behaviour of chongzhou96/MaskCLIP@245d31f (an MMSegmentation 0.20 fork), with
plain torch / OpenCV operations on the weights of an open_clip model. It imports nothing from
``maskclip``: the tests compare our configs and modules against it. The steps, each with the
authors' file and line:

1. decode with OpenCV (BGR); resize with mmcv's rule: keep the ratio with the factor
   ``min(long_max / long side, short_max / short side)`` and round ``int(x * f + 0.5)``, or an
   exact size when the ratio is not kept (``configs/maskclip/224x224/*``); bilinear;
2. BGR -> RGB, ImageNet mean / std (every dataset config's ``img_norm_cfg``);
3. ViT (``mmseg/models/backbones/vit.py``): zeros at the bottom/right up to whole patches
   (``padding='corner'``, ``mmseg/models/utils/embed.py:58-80``), patch conv without bias, class
   token, positional embedding resized bicubically (align_corners=False) to the padded grid,
   LayerNorms with eps 1e-6 and exact GELU (``configs/_base_/models/maskclip_vit16.py:22-23``);
   the last block also returns ``v = x + out_proj(v)``, ``v = v + MLP(LN2(v))``, ``LN_post(v)``
   and the keys ``out_proj(k)`` (``vit.py:94-108, 433-461``); the head projects ``v`` with CLIP's
   visual projection;
   ResNet (``maskclip_head.py:110-116``): CLIP's trunk, then ``c_proj(v_proj(x))`` and the keys
   ``k_proj(x)`` as 1x1 convolutions, no positional embedding;
4. head (``maskclip_head.py:123-153``): cosine with the class embeddings (each the re-normalised
   mean of the normalised template embeddings, ``tools/maskclip_utils/prompt_engineering.py``);
   prompt denoising: classes whose ``softmax(100 l)`` never reaches the threshold get -100, no
   class kept on purpose; key smoothing: ``p = softmax(100 l)``, keys (hw, C) L2-normalised along
   the token axis, ``W = k k^T``, ``W p`` replaces ``p`` where ``max p`` is below the threshold;
5. bilinear (align_corners=False) to the resized input size (padding not cropped), then to the
   original image size (``encoder_decoder.py:72-82, 207-224``).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
IMAGENET_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
AUTHORS_LN_EPS = 1e-6


def mmcv_rescaled_size(width: int, height: int, scale: tuple[int, int]) -> tuple[int, int]:
    """(new width, new height) of mmcv's keep-ratio rescale to ``scale``."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(width * factor + 0.5), int(height * factor + 0.5)


def load_and_resize(path: str, scale: tuple[int, int], keep_ratio: bool) -> np.ndarray:
    """BGR uint8 image resized as the authors' ``Resize`` (step 1)."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    size = mmcv_rescaled_size(width, height, scale) if keep_ratio else tuple(scale)
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


def normalise(image_bgr: np.ndarray) -> torch.Tensor:
    """Step 2: (1, 3, H, W) float tensor."""
    rgb = image_bgr[..., ::-1].astype(np.float32)
    return torch.from_numpy((rgb - IMAGENET_MEAN) / IMAGENET_STD).permute(2, 0, 1)[None]


def layer_norm(x, module, eps):
    return F.layer_norm(x, module.normalized_shape, module.weight, module.bias, eps)


def mlp(x, block, exact_gelu: bool):
    hidden = F.linear(x, block.mlp.c_fc.weight, block.mlp.c_fc.bias)
    hidden = F.gelu(hidden) if exact_gelu else hidden * torch.sigmoid(1.702 * hidden)
    return F.linear(hidden, block.mlp.c_proj.weight, block.mlp.c_proj.bias)


def multi_head_attention(x, attn):
    """Standard multi-head self-attention of ``x`` (B, N, D) with ``attn``'s weights."""
    b, n, d = x.shape
    heads = attn.num_heads
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (t.reshape(b, n, heads, d // heads).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(b, n, d)
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


def vit_dense(visual, images: torch.Tensor, eps: float = AUTHORS_LN_EPS,
              exact_gelu: bool = True, corner_padding: bool = True, baseline: bool = False,
              outer_eps: float = None):
    """Step 3 for a CLIP ViT: ((B, C, h, w) dense features, (B, D, h, w) keys). ``eps`` is the
    blocks' LayerNorm epsilon, ``outer_eps`` that of ``ln_pre`` / ``ln_post`` (default: ``eps``;
    the ReCLIP authors keep CLIP's 1e-5 there)."""
    outer_eps = eps if outer_eps is None else outer_eps
    patch = visual.conv1.kernel_size[0]
    height, width = images.shape[-2:]
    if corner_padding:
        images = F.pad(images, (0, -width % patch, 0, -height % patch))
    x = F.conv2d(images, visual.conv1.weight, stride=patch)
    b, d, h, w = x.shape
    x = x.flatten(2).transpose(1, 2)
    pos = visual.positional_embedding
    side = int(round((pos.shape[0] - 1) ** 0.5))
    grid = pos[1:].reshape(1, side, side, d).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(h, w), mode='bicubic', align_corners=False)
    cls = (visual.class_embedding + pos[0]).expand(b, 1, d)
    x = torch.cat([cls, x + grid.flatten(2).transpose(1, 2)], dim=1)
    x = layer_norm(x, visual.ln_pre, outer_eps)
    blocks = visual.transformer.resblocks
    for block in blocks[:-1]:
        x = x + multi_head_attention(layer_norm(x, block.ln_1, eps), block.attn)
        x = x + mlp(layer_norm(x, block.ln_2, eps), block, exact_gelu)
    last = blocks[-1]
    y = layer_norm(x, last.ln_1, eps)
    if baseline:  # the unmodified last block
        out = x + multi_head_attention(y, last.attn)
    else:
        _, k, v = F.linear(y, last.attn.in_proj_weight, last.attn.in_proj_bias).chunk(3, dim=-1)
        out = x + F.linear(v, last.attn.out_proj.weight, last.attn.out_proj.bias)
    out = out + mlp(layer_norm(out, last.ln_2, eps), last, exact_gelu)
    dense = layer_norm(out[:, 1:], visual.ln_post, outer_eps) @ visual.proj
    _, k, _ = F.linear(y, last.attn.in_proj_weight, last.attn.in_proj_bias).chunk(3, dim=-1)
    keys = F.linear(k[:, 1:], last.attn.out_proj.weight, last.attn.out_proj.bias)
    return (dense.transpose(1, 2).reshape(b, -1, h, w), keys.transpose(1, 2).reshape(b, -1, h, w))


def resnet_dense(visual, images: torch.Tensor, baseline: bool = False):
    """Step 3 for a CLIP ResNet: ((B, C, h, w) dense features, (B, D, h, w) keys).

    ``baseline`` (no released config of the authors): CLIP's attention pool with every position
    as a query, its positional embedding resized bicubically to the grid (our Table 1a baseline).
    """
    x = visual.stem(images)
    x = visual.layer4(visual.layer3(visual.layer2(visual.layer1(x))))
    pool = visual.attnpool

    def conv1x1(t, linear):
        return F.conv2d(t, linear.weight[:, :, None, None], linear.bias)

    keys = conv1x1(x, pool.k_proj)
    if not baseline:
        return conv1x1(conv1x1(x, pool.v_proj), pool.c_proj), keys
    b, d, h, w = x.shape
    tokens = x.flatten(2).transpose(1, 2)  # (B, hw, D)
    tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)
    pos = pool.positional_embedding
    side = int(round((pos.shape[0] - 1) ** 0.5))
    grid = F.interpolate(pos[1:].reshape(1, side, side, d).permute(0, 3, 1, 2), size=(h, w),
                         mode='bicubic', align_corners=False)
    tokens = tokens + torch.cat([pos[:1], grid.flatten(2)[0].T])[None]
    heads = pool.num_heads
    q, k, v = (F.linear(tokens, proj.weight, proj.bias).reshape(b, -1, heads, d // heads)
               .transpose(1, 2) for proj in (pool.q_proj, pool.k_proj, pool.v_proj))
    attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), dim=-1)
    out = F.linear((attn @ v).transpose(1, 2).reshape(b, -1, d), pool.c_proj.weight,
                   pool.c_proj.bias)
    return out[:, 1:].transpose(1, 2).reshape(b, -1, h, w), keys


@torch.no_grad()
def class_embeddings(model, tokenizer, class_names, templates) -> torch.Tensor:
    """(K, C): per class, the normalised mean of the normalised template embeddings."""
    rows = []
    for name in class_names:
        emb = model.encode_text(tokenizer([t.format(name) for t in templates]))
        emb = emb / emb.norm(dim=-1, keepdim=True)
        mean = emb.mean(dim=0)
        rows.append(mean / mean.norm())
    return torch.stack(rows)


def head(dense, keys, text, ks_threshold=None, pd_threshold=None):
    """Step 4: (B, K, h, w) head output (cosines, or confidences after key smoothing)."""
    feats = dense / dense.norm(dim=1, keepdim=True)
    return refine(torch.einsum('bchw,kc->bkhw', feats, text), keys, ks_threshold, pd_threshold)


def refine(out, keys, ks_threshold=None, pd_threshold=None):
    """Prompt denoising then key smoothing of (B, K, h, w) cosines (``None``: off)."""
    b, k, h, w = out.shape
    if pd_threshold is not None:
        peak = torch.softmax(100 * out, dim=1).reshape(b, k, -1).max(dim=-1).values
        out = torch.where((peak < pd_threshold)[:, :, None, None], torch.full_like(out, -100.), out)
    if ks_threshold is not None:
        probs = torch.softmax(100 * out, dim=1).reshape(b, k, -1).transpose(1, 2)  # (B, hw, K)
        key = keys.reshape(b, keys.shape[1], -1).transpose(1, 2)  # (B, hw, D)
        key = key / key.norm(dim=1, keepdim=True).clamp_min(1e-12)  # along the tokens
        smoothed = (key @ key.transpose(1, 2)) @ probs
        low = probs.max(dim=-1, keepdim=True).values < ks_threshold
        out = torch.where(low, smoothed, probs).transpose(1, 2).reshape(b, k, h, w)
    return out


def resize_twice(logits, input_size, original_size):
    """Step 5."""
    out = F.interpolate(logits, size=input_size, mode='bilinear', align_corners=False)
    return F.interpolate(out, size=original_size, mode='bilinear', align_corners=False)
