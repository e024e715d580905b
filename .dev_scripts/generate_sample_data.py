"""Generate the small synthetic sample dataset in ``data/sample_scenes``.

Third-party photographs may not be committed, so the sample data that the evaluation demo runs on
is painted here: outdoor "scenes" (beach, countryside, city street, mountain lake) drawn as layered
regions with simple textures, like rough paintings, so that a real CLIP model has a chance to
recognise the regions. Every region is painted together with its label, so the label maps are
exact. Output (MMSegmentation layout)::

    <out>/img_dir/val/scene_000.jpg   RGB, JPEG quality 95
    <out>/ann_dir/val/scene_000.png   mode 'L', value = class index (0..K-1)
    <out>/classes.txt                 one class per line, comma-separated synonyms
    <out>/README.md

The output is a pure function of the arguments (numpy's ``default_rng``; only numpy and Pillow)::

    python .dev_scripts/generate_sample_data.py [--out data/sample_scenes] [--num-images 8] [--seed 0]
                                         [--size 320x240]
"""
from __future__ import annotations

import argparse
import os
import os.path as osp

import numpy as np
from PIL import Image, ImageDraw

# One line per class: the first name is the class name, the others are synonyms. The line index is
# the label value. Keep in sync with maskclip/text/class_names/sample_scenes.txt and
# maskclip/datasets/sample_scenes.py.
CLASS_LINES = (
    'sky',
    'water, sea, lake',
    'sand, beach',
    'grass, lawn, field',
    'tree, trees',
    'road, street',
    'building, house',
    'mountain, hill',
)
SKY, WATER, SAND, GRASS, TREE, ROAD, BUILDING, MOUNTAIN = range(len(CLASS_LINES))
SCENE_TYPES = ('beach', 'countryside', 'city', 'lake')


# --------------------------------------------------------------------------------------------
# Canvas and helpers
# --------------------------------------------------------------------------------------------
class Canvas:
    """An RGB float image and its label map, painted together."""

    def __init__(self, width: int, height: int):
        self.w, self.h = width, height
        self.img = np.zeros((height, width, 3), np.float32)
        self.label = np.zeros((height, width), np.uint8)
        self.yy, self.xx = np.mgrid[0:height, 0:width].astype(np.float32)

    def paint(self, mask: np.ndarray, colour: np.ndarray, cls: int | None, alpha: float = 1.0):
        """Paint ``colour`` (HxWx3 field or an RGB triple) where ``mask``; label it ``cls``."""
        colour = np.broadcast_to(np.asarray(colour, np.float32), self.img.shape)
        self.img[mask] = (1 - alpha) * self.img[mask] + alpha * colour[mask]
        if cls is not None:
            self.label[mask] = cls

    def to_images(self) -> tuple[Image.Image, Image.Image]:
        rgb = np.clip(self.img + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(rgb, 'RGB'), Image.fromarray(self.label, 'L')


def noise(rng: np.random.Generator, h: int, w: int, cells: tuple[int, int]) -> np.ndarray:
    """Smooth value noise in about [-1, 1]: a random (rows, cols) grid, bicubic-upsampled."""
    grid = rng.uniform(-1, 1, (max(cells[0], 2), max(cells[1], 2))).astype(np.float32)
    return np.asarray(Image.fromarray(grid, 'F').resize((w, h), Image.BICUBIC))


def fbm(rng: np.random.Generator, h: int, w: int, base: int = 3, octaves: int = 3,
        stretch: float = 1.0) -> np.ndarray:
    """Fractal noise; ``stretch`` > 1 elongates the blobs horizontally."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base * 2 ** o
        out += amp * noise(rng, h, w, (cells, max(2, int(cells * w / h / stretch))))
        total += amp
        amp *= 0.5
    return out / total


def noise_1d(rng: np.random.Generator, n: int, cells: int) -> np.ndarray:
    return noise(rng, 1, n, (2, cells))[0]


def textured(base, field: np.ndarray, amount) -> np.ndarray:
    """``base`` RGB (triple or HxWx3) plus a noise field scaled per channel by ``amount``."""
    return np.asarray(base, np.float32) + field[..., None] * np.asarray(amount, np.float32)


def polygon_mask(canvas: Canvas, points) -> np.ndarray:
    m = Image.new('L', (canvas.w, canvas.h), 0)
    ImageDraw.Draw(m).polygon([tuple(map(float, p)) for p in points], fill=1)
    return np.asarray(m, bool)


def ellipses_mask(canvas: Canvas, boxes) -> np.ndarray:
    m = Image.new('L', (canvas.w, canvas.h), 0)
    draw = ImageDraw.Draw(m)
    for x0, y0, x1, y1 in boxes:
        draw.ellipse((float(x0), float(y0), float(x1), float(y1)), fill=1)
    return np.asarray(m, bool)


def lerp(a, b, t):
    t = np.asarray(t, np.float32)[..., None]
    return np.asarray(a, np.float32) * (1 - t) + np.asarray(b, np.float32) * t


# --------------------------------------------------------------------------------------------
# Painters (each paints one kind of region and its label)
# --------------------------------------------------------------------------------------------
def paint_sky(c: Canvas, rng, horizon: float):
    """Blue vertical gradient over the whole canvas (later layers cover the lower part)."""
    top = np.array([55, 105, 185]) + rng.uniform(-15, 15, 3)
    bottom = np.array([175, 208, 235]) + rng.uniform(-10, 10, 3)
    t = np.clip(c.yy / max(horizon, 1.0), 0, 1) ** 0.8
    colour = lerp(top, bottom, t) + 4 * fbm(rng, c.h, c.w, 2, 2)[..., None]
    c.paint(np.ones((c.h, c.w), bool), colour, SKY)


def paint_clouds(c: Canvas, rng, horizon: float, count: int):
    """White blobs made of overlapping ellipses, shaded grey underneath; labelled sky."""
    for _ in range(count):
        cx = rng.uniform(0, c.w)
        cy = rng.uniform(0.1, 0.6) * horizon
        size = rng.uniform(0.08, 0.16) * c.w
        boxes = []
        for _ in range(rng.integers(4, 8)):
            ox, oy = rng.normal(0, size * 0.7), rng.normal(0, size * 0.15)
            rx, ry = size * rng.uniform(0.4, 0.8), size * rng.uniform(0.25, 0.45)
            boxes.append((cx + ox - rx, cy + oy - ry, cx + ox + rx, cy + oy + ry))
        mask = ellipses_mask(c, boxes)
        shade = np.clip((c.yy - (cy - size * 0.5)) / (size * 1.0), 0, 1)
        colour = lerp([250, 250, 252], [195, 200, 212], shade) + \
            6 * fbm(rng, c.h, c.w, 4, 2)[..., None]
        c.paint(mask, colour, SKY, alpha=0.92)


def paint_mountains(c: Canvas, rng, horizon: float, peaks: int, haze: float = 0.0):
    """A jagged ridge of triangular peaks, rock lit from the left, with a snow cap."""
    xs = np.arange(c.w, dtype=np.float32)
    px = np.sort(rng.uniform(-0.1, 1.1, peaks)) * c.w
    py = horizon - rng.uniform(0.35, 0.75, peaks) * horizon
    slope = rng.uniform(0.5, 1.1, peaks)
    profiles = py[:, None] + slope[:, None] * np.abs(xs[None] - px[:, None])
    owner = profiles.argmin(0)
    ridge = profiles.min(0) + 6 * noise_1d(rng, c.w, 40) + 3 * noise_1d(rng, c.w, 120)
    ridge = np.minimum(ridge, horizon - 1)
    mask = (c.yy >= ridge[None]) & (c.yy <= horizon + 2)
    rock = np.array([118, 104, 92]) + rng.uniform(-12, 12, 3)
    side = np.tanh((px[owner] - xs) / 3.0)  # +1 on the sunlit left flank, -1 on the right
    lit = (0.97 + 0.15 * side)[None, :, None]
    colour = textured(rock, fbm(rng, c.h, c.w, 6, 3), 22) * lit
    snowline = py.min() + rng.uniform(0.25, 0.45) * (horizon - py.min())
    snowline = snowline + 8 * noise_1d(rng, c.w, 25)[None]
    snow_depth = c.yy - ridge[None]
    snow = (c.yy < snowline) | (snow_depth < 3)
    snow &= c.yy < (py[owner] + 0.45 * (horizon - py[owner]))[None]
    snow_colour = textured([238, 240, 246], fbm(rng, c.h, c.w, 8, 2), 8) * \
        (0.93 + 0.07 * side)[None, :, None]
    colour = np.where(snow[..., None], snow_colour, colour)
    if haze > 0:  # distant range: blend towards the sky colour
        colour = lerp(colour.reshape(-1, 3), [165, 195, 225], haze).reshape(colour.shape)
    c.paint(mask, colour, MOUNTAIN)


def paint_water(c: Canvas, rng, top: float, bottom: np.ndarray | float, turquoise: bool):
    """Blue-green water between ``top`` and ``bottom`` (per-column array) with ripple stripes."""
    bottom = np.broadcast_to(np.asarray(bottom, np.float32), (c.w,))
    mask = (c.yy >= top) & (c.yy < bottom[None])
    depth = np.clip((c.yy - top) / max(c.h - top, 1.0), 0, 1)
    far, near = ([70, 125, 170], [40, 150, 160]) if turquoise else ([80, 120, 160], [30, 70, 110])
    colour = lerp(far, near, depth ** 0.7)
    phase = 55 * np.sqrt(depth + 0.01) + 2.5 * fbm(rng, c.h, c.w, 3, 2, stretch=4)
    ripple = np.sin(2 * np.pi * phase)
    colour += (14 * ripple)[..., None] + 30 * np.clip(ripple - 0.75, 0, 1)[..., None] * 4
    colour += 6 * fbm(rng, c.h, c.w, 4, 2, stretch=6)[..., None]
    # surf: a light band just above the shore line
    foam = (bottom[None] - c.yy) < (2.5 + 2 * noise(rng, c.h, c.w, (4, 30)))
    colour = np.where((foam & mask)[..., None], np.array([235, 240, 238], np.float32), colour)
    c.paint(mask, colour, WATER)


def paint_sand(c: Canvas, rng, top: np.ndarray | float):
    """Beige ground with fine grain and a few darker wet/shadow patches."""
    top = np.broadcast_to(np.asarray(top, np.float32), (c.w,))
    mask = c.yy >= top[None]
    base = np.array([218, 198, 152]) + rng.uniform(-8, 8, 3)
    colour = textured(base, fbm(rng, c.h, c.w, 3, 2, stretch=3), [14, 14, 12])
    colour += 5 * noise(rng, c.h, c.w, (c.h // 3, c.w // 3))[..., None]
    wet = np.clip(1 - (c.yy - top[None]) / 10, 0, 1)
    colour = colour * (1 - 0.18 * wet[..., None])
    c.paint(mask, colour, SAND)


def paint_grass(c: Canvas, rng, top: np.ndarray | float, bottom: float | None = None):
    """Green noisy field, lighter in the distance, with faint vertical blade streaks."""
    top = np.broadcast_to(np.asarray(top, np.float32), (c.w,))
    mask = c.yy >= top[None]
    if bottom is not None:
        mask &= c.yy < bottom
    depth = np.clip((c.yy - top.min()) / max(c.h - top.min(), 1.0), 0, 1)
    base = lerp([120, 165, 80], [62, 125, 42], depth ** 0.6) + rng.uniform(-8, 8, 3)
    colour = textured(base, fbm(rng, c.h, c.w, 3, 3, stretch=2), [22, 28, 12])
    blades = noise(rng, c.h, c.w, (c.h // 8, c.w // 2))
    colour += (10 * blades * depth)[..., None] * np.array([0.6, 1.0, 0.5], np.float32)
    c.paint(mask, colour, GRASS)


def paint_tree(c: Canvas, rng, base_x: float, base_y: float, height: float):
    """A brown trunk under a dark green blobby canopy; both labelled tree."""
    trunk_w = height * rng.uniform(0.07, 0.11)
    trunk_h = height * rng.uniform(0.35, 0.5)
    trunk = (np.abs(c.xx - base_x) < trunk_w / 2) & (c.yy <= base_y) & (c.yy > base_y - trunk_h)
    bark = textured([92, 64, 40], noise(rng, c.h, c.w, (c.h // 6, c.w // 4)), 12)
    c.paint(trunk, bark, TREE)
    radius = height * rng.uniform(0.28, 0.36)
    cx, cy = base_x, base_y - trunk_h - radius * 0.6
    boxes = [(cx - radius, cy - radius, cx + radius, cy + radius)]
    for _ in range(rng.integers(5, 10)):
        ox, oy = rng.normal(0, radius * 0.55), rng.normal(-radius * 0.1, radius * 0.45)
        r = radius * rng.uniform(0.45, 0.75)
        boxes.append((cx + ox - r, cy + oy - r, cx + ox + r, cy + oy + r))
    canopy = ellipses_mask(c, boxes)
    light = np.clip(((cx - c.xx) + (cy - c.yy)) / (2.5 * radius), -1, 1)
    leaf = np.array([38, 88, 36]) + rng.uniform(-8, 8, 3)
    colour = textured(leaf, fbm(rng, c.h, c.w, 12, 2), [14, 22, 10])
    colour += (light * 22)[..., None] * np.array([0.7, 1.0, 0.5], np.float32)
    c.paint(canopy, colour, TREE)


def paint_road_perspective(c: Canvas, rng, horizon: float):
    """A grey road running to a vanishing point, white edge lines and a dashed centre line."""
    vx = rng.uniform(0.35, 0.65) * c.w
    half = rng.uniform(0.35, 0.6) * c.w
    centre_bottom = vx + rng.uniform(-0.25, 0.25) * c.w
    d = np.clip((c.yy - horizon) / (c.h - horizon), 0, 1)  # 0 at horizon, 1 at the bottom
    centre = vx + (centre_bottom - vx) * d
    u = (c.xx - centre) / np.maximum(half * d, 1e-3)  # -1..1 across the road
    mask = (np.abs(u) <= 1) & (c.yy > horizon + 1)
    colour = textured([108, 108, 112], fbm(rng, c.h, c.w, 6, 2), 10)
    colour += 4 * noise(rng, c.h, c.w, (c.h // 3, c.w // 3))[..., None]
    line_w = 0.035
    edges = np.abs(np.abs(u) - 0.9) < line_w
    dist = 1.0 / np.maximum(d, 1e-3)  # distance along the road
    dashes = (np.abs(u) < line_w) & (np.mod(dist * 2.2, 1.0) < 0.5)
    white = (edges | dashes) & (d > 0.04)
    colour = np.where(white[..., None], np.array([228, 228, 220], np.float32), colour)
    c.paint(mask, colour, ROAD)


def paint_road_band(c: Canvas, rng, top: float, bottom: float):
    """A street crossing the picture: grey band, kerb lines and a dashed centre line."""
    mask = (c.yy >= top) & (c.yy < bottom)
    colour = textured([98, 98, 104], fbm(rng, c.h, c.w, 4, 2, stretch=3), 9)
    colour += 4 * noise(rng, c.h, c.w, (c.h // 3, c.w // 3))[..., None]
    mid = (top + bottom) / 2
    thick = max(2.0, (bottom - top) * 0.04)
    dash_len = rng.uniform(18, 30)
    dashes = (np.abs(c.yy - mid) < thick / 2) & (np.mod(c.xx + rng.uniform(0, 30), dash_len) <
                                                  dash_len * 0.55)
    kerb = (c.yy < top + thick) | (c.yy >= bottom - thick)
    colour = np.where(dashes[..., None], np.array([235, 232, 215], np.float32), colour)
    colour = np.where(kerb[..., None], np.array([175, 172, 165], np.float32), colour)
    c.paint(mask, colour, ROAD)


BUILDING_COLOURS = ([196, 180, 150], [170, 90, 70], [150, 150, 155], [215, 205, 185],
                    [120, 110, 120], [185, 140, 100], [200, 200, 205])


def paint_building(c: Canvas, rng, x0: float, x1: float, top: float, ground: float,
                   haze: float = 0.0):
    """A rectangular facade with a roof band and a grid of windows."""
    mask = (c.xx >= x0) & (c.xx < x1) & (c.yy >= top) & (c.yy < ground)
    wall = np.asarray(BUILDING_COLOURS[rng.integers(len(BUILDING_COLOURS))], np.float32)
    colour = textured(wall + rng.uniform(-10, 10, 3), fbm(rng, c.h, c.w, 8, 2), 8)
    roof = (c.yy < top + max(2.0, (ground - top) * 0.04))
    colour = np.where(roof[..., None], wall * 0.6, colour)
    win_w, win_h = rng.uniform(4, 8), rng.uniform(5, 9)
    gap_x, gap_y = win_w * rng.uniform(0.7, 1.3), win_h * rng.uniform(0.6, 1.0)
    lx = np.mod(c.xx - x0 - gap_x * 0.8, win_w + gap_x)
    ly = np.mod(c.yy - top - gap_y * 1.5, win_h + gap_y)
    windows = (lx < win_w) & (ly < win_h) & (c.xx < x1 - gap_x * 0.5) & \
        (c.yy > top + gap_y) & (c.yy < ground - win_h * 1.5)
    lit = noise(rng, c.h, c.w, (c.h // 6, c.w // 6)) > 0.45
    glass = np.where(lit[..., None], np.array([230, 210, 140], np.float32),
                     np.array([60, 75, 95], np.float32))
    glass = glass + 18 * np.clip((ly - win_h * 0.5) / win_h, -1, 1)[..., None] * -1
    colour = np.where(windows[..., None], glass, colour)
    door = (np.abs(c.xx - (x0 + x1) / 2) < win_w * 0.8) & (c.yy > ground - win_h * 1.6)
    colour = np.where(door[..., None], wall * 0.45, colour)
    if haze > 0:
        colour = lerp(colour.reshape(-1, 3), [170, 195, 220], haze).reshape(colour.shape)
    c.paint(mask, colour, BUILDING)


# --------------------------------------------------------------------------------------------
# Scene layouts
# --------------------------------------------------------------------------------------------
def wavy(rng, c: Canvas, level: float, amplitude: float, cells: int = 6) -> np.ndarray:
    return level + amplitude * noise_1d(rng, c.w, cells)


def scene_beach(c: Canvas, rng):
    horizon = rng.uniform(0.32, 0.48) * c.h
    paint_sky(c, rng, horizon)
    paint_clouds(c, rng, horizon, rng.integers(1, 4))
    if rng.random() < 0.5:
        paint_mountains(c, rng, horizon, rng.integers(1, 3), haze=0.45)
    shore = wavy(rng, c, rng.uniform(0.62, 0.78) * c.h, 0.04 * c.h)
    paint_water(c, rng, horizon, shore, turquoise=True)
    paint_sand(c, rng, shore)
    for _ in range(rng.integers(0, 3)):
        side = rng.choice([0.08, 0.92])
        x = (side + rng.uniform(-0.06, 0.06)) * c.w
        y = rng.uniform(0.85, 1.0) * c.h
        paint_tree(c, rng, x, y, rng.uniform(0.4, 0.6) * c.h)


def scene_countryside(c: Canvas, rng):
    horizon = rng.uniform(0.45, 0.6) * c.h
    paint_sky(c, rng, horizon)
    paint_clouds(c, rng, horizon, rng.integers(2, 5))
    paint_mountains(c, rng, horizon, rng.integers(2, 5), haze=rng.uniform(0.0, 0.25))
    paint_grass(c, rng, wavy(rng, c, horizon, 2.0, 10))
    paint_road_perspective(c, rng, horizon)
    trees = sorted(rng.uniform(horizon + 0.1 * c.h, c.h * 1.05, rng.integers(2, 6)))
    for y in trees:  # far to near, so nearer trees overlap farther ones
        d = (y - horizon) / (c.h - horizon)
        row = min(int(y), c.h - 1)
        for _ in range(10):  # stand on the grass, not on the road
            x = rng.choice([rng.uniform(0.0, 0.3), rng.uniform(0.7, 1.0)]) * c.w
            if c.label[row, min(int(x), c.w - 1)] != ROAD:
                paint_tree(c, rng, x, y, (0.12 + 0.5 * d) * c.h)
                break


def scene_city(c: Canvas, rng):
    ground = rng.uniform(0.55, 0.7) * c.h
    paint_sky(c, rng, ground)
    paint_clouds(c, rng, ground * 0.5, rng.integers(0, 3))
    for layer, haze in ((0, 0.35), (1, 0.0)):
        x = rng.uniform(-30, 0)
        while x < c.w:
            width = rng.uniform(0.12, 0.28) * c.w
            height = rng.uniform(0.35, 0.85 if layer == 0 else 0.6) * ground
            base = ground - (3 if layer == 0 else 0)
            paint_building(c, rng, x, x + width, base - height, base, haze)
            x += width + (rng.uniform(0, 10) if layer == 1 else rng.uniform(-10, 5))
    verge = ground + rng.uniform(0.05, 0.1) * c.h
    paint_grass(c, rng, ground, verge)
    road_bottom = rng.uniform(0.88, 1.0) * c.h
    paint_road_band(c, rng, verge, road_bottom)
    if road_bottom < c.h - 1:  # a strip of lawn on the near side of the street
        paint_grass(c, rng, road_bottom)
    for x in np.sort(rng.uniform(0.05, 0.95, rng.integers(1, 4))) * c.w:
        paint_tree(c, rng, x, verge - 1, rng.uniform(0.25, 0.4) * c.h)


def scene_lake(c: Canvas, rng):
    horizon = rng.uniform(0.45, 0.58) * c.h
    paint_sky(c, rng, horizon)
    paint_clouds(c, rng, horizon, rng.integers(1, 4))
    paint_mountains(c, rng, horizon, rng.integers(2, 4))
    far_shore = horizon + rng.uniform(0.0, 0.02) * c.h
    near_shore = wavy(rng, c, rng.uniform(0.72, 0.85) * c.h, 0.05 * c.h)
    paint_water(c, rng, far_shore, near_shore, turquoise=False)
    if rng.random() < 0.5:
        paint_sand(c, rng, near_shore)
        paint_grass(c, rng, near_shore + rng.uniform(0.04, 0.08) * c.h)
    else:
        paint_grass(c, rng, near_shore)
    for _ in range(rng.integers(1, 4)):
        x = rng.choice([rng.uniform(0.0, 0.25), rng.uniform(0.75, 1.0)]) * c.w
        paint_tree(c, rng, x, rng.uniform(0.92, 1.02) * c.h, rng.uniform(0.35, 0.55) * c.h)


SCENES = dict(beach=scene_beach, countryside=scene_countryside, city=scene_city, lake=scene_lake)


def generate_scene(index: int, seed: int, width: int, height: int):
    """Image ``index``: the scene type cycles through SCENE_TYPES, everything else is random."""
    rng = np.random.default_rng([seed, index])
    canvas = Canvas(width, height)
    SCENES[SCENE_TYPES[index % len(SCENE_TYPES)]](canvas, rng)
    return canvas.to_images()


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 320x240 (WxH), got '{text}'")
    if w < 32 or h < 32:
        raise argparse.ArgumentTypeError('size must be at least 32x32')
    return w, h


def write_dataset(out: str, num_images: int, seed: int, size: tuple[int, int]) -> None:
    img_dir, ann_dir = osp.join(out, 'img_dir', 'val'), osp.join(out, 'ann_dir', 'val')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    for i in range(num_images):
        img, label = generate_scene(i, seed, *size)
        img.save(osp.join(img_dir, f'scene_{i:03d}.jpg'), quality=95)
        label.save(osp.join(ann_dir, f'scene_{i:03d}.png'), optimize=True)
    with open(osp.join(out, 'classes.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(CLASS_LINES) + '\n')
    cmd = (f'python .dev_scripts/generate_sample_data.py --out {out} --num-images {num_images} '
           f'--seed {seed} --size {size[0]}x{size[1]}')
    with open(osp.join(out, 'README.md'), 'w', encoding='utf-8') as f:
        f.write('# sample_scenes\n\n'
                'Synthetic outdoor scenes painted by `.dev_scripts/generate_sample_data.py` '
                f'(seed {seed}, {num_images} images, {size[0]}x{size[1]}); no third-party '
                'content.\n'
                'Labels are exact class indices (see `classes.txt`). Regenerate with:\n'
                f'`{cmd}`\n')


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/sample_scenes', help='output directory')
    parser.add_argument('--num-images', type=int, default=8, help='number of scenes')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--size', type=parse_size, default=(320, 240), help='WxH, e.g. 320x240')
    args = parser.parse_args(argv)
    if args.num_images < 1:
        parser.error('--num-images must be at least 1')
    write_dataset(args.out, args.num_images, args.seed, args.size)
    print(f'wrote {args.num_images} scenes to {args.out}')


if __name__ == '__main__':
    main()
