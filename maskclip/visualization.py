"""Small drawing helpers for label maps: palette, colour mask, overlay, legend, image loading,
and side-by-side comparison figures (matplotlib, Agg backend).

All images are numpy arrays: ``(H, W, 3) uint8`` RGB, label maps ``(H, W)`` integer class indices.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

#: Hand-picked, well separated colours for the first classes (Kelly's / tab10-like), RGB.
BASE_PALETTE = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (255, 225, 25), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
)
#: Seed of the extra colours generated beyond ``BASE_PALETTE``.
PALETTE_SEED = 0
#: Text colour of classes that are absent from a prediction in :func:`draw_legend`.
ABSENT_TEXT = (160, 160, 160)
#: Label value of unlabelled ground-truth pixels (mmseg's ``ignore_index``) and its colour.
IGNORE_INDEX = 255
IGNORE_COLOUR = (0, 0, 0)


def palette(num_classes: int) -> np.ndarray:
    """``(num_classes, 3) uint8``: ``BASE_PALETTE``, then distinct colours from a fixed seed."""
    colours = [tuple(c) for c in BASE_PALETTE[:num_classes]]
    seen = set(colours)
    rng = np.random.RandomState(PALETTE_SEED)
    while len(colours) < num_classes:
        colour = tuple(int(v) for v in rng.randint(0, 256, size=3))
        if colour not in seen:
            seen.add(colour)
            colours.append(colour)
    return np.array(colours, dtype=np.uint8).reshape(num_classes, 3)


def colorize(labels, colours: np.ndarray, ignore_index: Optional[int] = None) -> np.ndarray:
    """``(H, W)`` class indices -> ``(H, W, 3) uint8``; index ``i`` gets ``colours[i]``.

    With ``ignore_index`` (ground truth), pixels of that value get ``IGNORE_COLOUR``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f'Expected an (H, W) label map, got shape {labels.shape}.')
    ignored = (labels == ignore_index) if ignore_index is not None else None
    if ignored is not None and ignored.any():
        labels = np.where(ignored, 0, labels)
    if labels.size and (labels.min() < 0 or labels.max() >= len(colours)):
        raise ValueError(f'Label values {labels.min()}..{labels.max()} fall outside the '
                         f'{len(colours)} palette colours.')
    out = np.asarray(colours, dtype=np.uint8).reshape(-1, 3)[labels]
    if ignored is not None:
        out[ignored] = IGNORE_COLOUR
    return out


def overlay(image: np.ndarray, mask: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """Blend: ``round((1 - opacity) * image + opacity * mask)`` per channel, as uint8."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f'opacity must lie in [0, 1], got {opacity}.')
    image, mask = np.asarray(image), np.asarray(mask)
    if image.shape != mask.shape:
        raise ValueError(f'Image {image.shape} and mask {mask.shape} differ in shape.')
    blend = (1.0 - opacity) * image.astype(np.float64) + opacity * mask.astype(np.float64)
    return np.clip(np.round(blend), 0, 255).astype(np.uint8)


def class_fractions(labels, num_classes: int) -> np.ndarray:
    """Fraction of pixels of each class, ``(num_classes,)`` float summing to 1."""
    labels = np.asarray(labels).ravel()
    counts = np.bincount(labels, minlength=num_classes)[:num_classes]
    return counts / max(labels.size, 1)


def draw_legend(names: Sequence[str], colours: np.ndarray,
                fractions: Optional[Sequence[float]] = None, font_size: int = 14) -> np.ndarray:
    """A legend image: one row per class, a colour swatch and the name, in Pillow's default font.

    With ``fractions``, classes present in the prediction come first (largest first) with their
    pixel share; absent classes follow, with a grey name and ``(absent)``.
    """
    order = list(range(len(names)))
    rows = []
    if fractions is None:
        rows = [(i, names[i], True) for i in order]
    else:
        present = sorted((i for i in order if fractions[i] > 0), key=lambda i: -fractions[i])
        rows = [(i, f'{names[i]}  {100 * fractions[i]:.1f}%', True) for i in present]
        rows += [(i, f'{names[i]}  (absent)', False) for i in order if fractions[i] <= 0]
    font = _default_font(font_size)
    pad, swatch = 8, font_size + 4
    row_h = swatch + 6
    measure = ImageDraw.Draw(Image.new('RGB', (1, 1)))
    text_w = max([int(np.ceil(measure.textlength(text, font=font))) for _, text, _ in rows] + [1])
    width = pad + swatch + pad + text_w + pad
    height = pad + row_h * len(rows) + pad - 6
    legend = Image.new('RGB', (width, max(height, 1)), (255, 255, 255))
    draw = ImageDraw.Draw(legend)
    for row, (i, text, is_present) in enumerate(rows):
        y = pad + row * row_h
        draw.rectangle([pad, y, pad + swatch - 1, y + swatch - 1],
                       fill=tuple(int(v) for v in colours[i]), outline=(0, 0, 0))
        draw.text((pad + swatch + pad, y + swatch / 2), text, anchor='lm', font=font,
                  fill=(0, 0, 0) if is_present else ABSENT_TEXT)
    return np.asarray(legend)


def _default_font(size: int):
    try:
        return ImageFont.load_default(size=size)  # scalable with FreeType (Pillow >= 10.1)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


#: What :func:`load_rgb` reads (Pillow's readers); shown in its error messages.
SUPPORTED_FORMATS = 'JPEG, PNG (8/16-bit, grayscale, palette, RGBA), BMP, GIF, TIFF, WebP'


@contextlib.contextmanager
def _image_errors(path: str):
    """Turn the ways reading ``path`` fails into a ``ValueError`` that names the file."""
    try:
        yield
    except FileNotFoundError:
        raise ValueError(f'Image not found: {path}') from None
    except IsADirectoryError:
        raise ValueError(f'Not an image file but a directory: {path}') from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as error:
        raise ValueError(f'Cannot read the image {path} ({error}); supported formats: '
                         f'{SUPPORTED_FORMATS}.') from None


def check_image(path: str) -> None:
    """Raise ``ValueError`` naming ``path`` unless it exists and has a readable image header."""
    with _image_errors(path), Image.open(path):
        pass


def load_rgb(path: str) -> np.ndarray:
    """Read an image as ``(H, W, 3) uint8`` RGB, as it is displayed (EXIF orientation applied).

    Grayscale and palette images are expanded to RGB, transparency is composited on white, and
    16-bit images are scaled to 8 bits (``value / 257``). Raises ``ValueError`` naming the file
    if it is missing or cannot be decoded.
    """
    with _image_errors(path), Image.open(path) as image:
        image.load()
        return to_rgb(ImageOps.exif_transpose(image))


def to_rgb(image: Image.Image) -> np.ndarray:
    """A PIL image of any mode -> ``(H, W, 3) uint8`` RGB (see :func:`load_rgb`)."""
    if image.mode in ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N', 'F'):
        gray = np.asarray(image, dtype=np.float64)
        top = gray.max(initial=0)
        if image.mode.startswith('I;16') or 255 < top <= 65535:
            gray = gray / 257.0
        elif image.mode == 'F' and gray.min(initial=0) >= 0 and top <= 1.0:  # 0..1 floats
            gray = gray * 255.0
        elif top > 65535 or gray.min(initial=0) < 0:  # 32-bit / float data: stretch to 0..255
            low = gray.min()
            gray = (gray - low) * (255.0 / max(top - low, 1e-12))
        gray = np.clip(np.round(gray), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode in ('RGBA', 'LA', 'PA', 'La', 'RGBa') or (
            image.mode == 'P' and 'transparency' in image.info):
        rgba = image.convert('RGBA')
        background = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert('RGB'))


def as_rgb_array(image) -> np.ndarray:
    """Any in-memory image -> ``(H, W, 3) uint8`` RGB, converting what has one meaning.

    Taken: PIL images of any mode (as :func:`to_rgb`); numpy arrays and torch tensors that are
    HxW (grayscale), HxWxC or CxHxW with C = 1 (grayscale), 3 (RGB) or 4 (RGBA, composited on
    white), of dtype uint8 or uint16 (scaled by 1/257). Refused with a ``ValueError`` naming the
    problem and the fix: batches, other channel counts, empty images, other dtypes (floats
    have no agreed scale: 0..1 or 0..255) and uint16 arrays whose values stay below 4096 (10- or
    12-bit data, which the 16-bit scaling would turn nearly black).
    """
    if isinstance(image, Image.Image):
        return to_rgb(image)
    if type(image).__module__.startswith('torch'):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.ndim == 4:
        raise ValueError(f'Got a batch of images (shape {array.shape}); pass a list of images.')
    if array.ndim not in (2, 3):
        raise ValueError(f'Expected an image of shape HxW, HxWxC or CxHxW, got shape '
                         f'{array.shape}.')
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4) and array.shape[0] in (1, 3, 4):
        array = array.transpose(1, 2, 0)  # CxHxW (torch's layout) -> HxWxC
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise ValueError(f'Expected 1 (gray), 3 (RGB) or 4 (RGBA) channels, got shape '
                         f'{array.shape}.')
    if array.size == 0 or min(array.shape[:2]) < 1:
        raise ValueError(f'The image is empty (shape {array.shape}).')
    if array.dtype == np.uint16:
        top = int(array.max(initial=0))
        if 0 < top < 4096:
            raise ValueError(f'uint16 pixel values only reach {top}: 8-, 10- or 12-bit data in '
                             'a 16-bit array would come out nearly black. Scale it to the full '
                             '0..65535 range, or convert it to uint8 yourself.')
        array = np.round(array / 257.0).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ValueError(f'Expected uint8 (or uint16) pixel values, got dtype {array.dtype}; '
                         'scale to 0..255 and convert, e.g. (x * 255).round().astype(np.uint8) '
                         'for 0..1 floats.')
    if array.ndim == 2 or array.shape[2] == 1:
        return np.repeat(array.reshape(array.shape[0], array.shape[1], 1), 3, axis=2)
    if array.shape[2] == 4:
        return to_rgb(Image.fromarray(np.ascontiguousarray(array), 'RGBA'))
    return np.ascontiguousarray(array)


# ------------------------------------------------------------------ ground truth and figures

#: Figures show every class when the vocabulary has at most this many, else only those present.
ALL_CLASSES_UP_TO = 12
#: Width of one figure panel in inches and the figures' resolution: a panel is 480 pixels wide.
PANEL_WIDTH = 3.2
FIGURE_DPI = 150
_LABEL_MODES = ('1', 'L', 'P', 'I', 'I;16', 'I;16B', 'I;16L', 'I;16N')


def read_label_map(path: str) -> np.ndarray:
    """A ground-truth PNG (one class index per pixel, ``IGNORE_INDEX`` unlabelled) -> ``(H, W)``
    int64. Raises ``ValueError`` naming the file if it is unreadable or not single-channel."""
    with _image_errors(path), Image.open(path) as image:
        image.load()
        if image.mode not in _LABEL_MODES:
            raise ValueError(f'The ground truth {path} has mode {image.mode}; a label map is a '
                             'single-channel PNG of class indices (mode L, P or I;16).')
        return np.asarray(image).astype(np.int64)


def check_label_map(labels: np.ndarray, num_classes: int, image_shape: Sequence[int],
                    path: str = 'ground truth') -> None:
    """Raise ``ValueError`` unless ``labels`` has the image's size and holds only class indices
    ``0..num_classes-1`` or ``IGNORE_INDEX``."""
    height, width = image_shape[:2]
    if tuple(labels.shape) != (height, width):
        raise ValueError(f'The ground truth {path} is {labels.shape[1]}x{labels.shape[0]} '
                         f'pixels but its image is {width}x{height}: give that image\'s label map.')
    values = np.unique(labels)
    bad = values[(values < 0) | ((values >= num_classes) & (values != IGNORE_INDEX))]
    if bad.size:
        raise ValueError(f'The ground truth {path} holds label values {bad[:8].tolist()}, but '
                         f'there are {num_classes} classes (0..{num_classes - 1}, '
                         f'{IGNORE_INDEX} = unlabelled): its indices follow the class order.')


@dataclass
class Panel:
    """One picture of a figure: a title, an ``(H, W, 3) uint8`` image and, for label maps, the
    ``(H, W)`` labels it shows (they decide which classes the legend lists)."""
    title: str
    image: np.ndarray
    labels: Optional[np.ndarray] = None


def label_panel(title: str, labels, colours: np.ndarray,
                ignore_index: Optional[int] = None) -> Panel:
    """A panel of a label map, coloured by :func:`colorize`."""
    labels = np.asarray(labels)
    return Panel(title, colorize(labels, colours, ignore_index), labels)


def legend_entries(names: Sequence[str], colours: np.ndarray, label_maps: Sequence[np.ndarray],
                   show_all_up_to: int = ALL_CLASSES_UP_TO) -> list:
    """``[(name, (r, g, b)), ...]`` in class order: every class of a short vocabulary (at most
    ``show_all_up_to``), else those present in any of ``label_maps``; ``'unlabelled'`` last if a
    map holds ``IGNORE_INDEX`` (outside the classes)."""
    num_classes = len(names)
    present = np.zeros(num_classes, dtype=bool)
    unlabelled = False
    for labels in label_maps:
        values = np.unique(labels)
        present[values[(values >= 0) & (values < num_classes)]] = True
        unlabelled |= IGNORE_INDEX >= num_classes and bool(np.any(values == IGNORE_INDEX))
    shown = range(num_classes) if num_classes <= show_all_up_to else np.flatnonzero(present)
    entries = [(names[i], tuple(int(v) for v in colours[i])) for i in shown]
    if unlabelled:
        entries.append(('unlabelled', IGNORE_COLOUR))
    return entries


def draw_figure(rows: Sequence[Sequence[Panel]], names: Sequence[str], colours: np.ndarray, *,
                panel_width: float = PANEL_WIDTH, dpi: int = FIGURE_DPI,
                show_all_up_to: int = ALL_CLASSES_UP_TO, font_size: int = 10):
    """Panels side by side, one row per image, each titled, with a colour legend below.

    Returns a ``matplotlib.figure.Figure`` on the Agg canvas (no pyplot, no display): its width
    is ``columns * panel_width`` inches, each axes holds its panel's image as given (label maps
    drawn with nearest-neighbour interpolation), and the legend lists :func:`legend_entries`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rows = [list(row) for row in rows]
    columns = max((len(row) for row in rows), default=0)
    if columns == 0:
        raise ValueError('A figure needs at least one panel.')
    aspects = [max(p.image.shape[0] / max(p.image.shape[1], 1) for p in row) if row else 1.0
               for row in rows]
    entries = legend_entries(names, colours,
                             [p.labels for row in rows for p in row if p.labels is not None],
                             show_all_up_to)
    width = columns * panel_width
    em = (font_size - 1) / 72  # legend font size in inches
    # legend columns: as many as fit the width (swatch, ~0.6 em a character, column spacing)
    entry_width = em * (4.5 + 0.6 * max((len(name) for name, _ in entries), default=1))
    legend_columns = max(1, min(len(entries), int(width // entry_width)))
    legend_rows = -(-len(entries) // legend_columns)
    title_height = 1.8 * font_size / 72
    height = (sum(panel_width * a + title_height for a in aspects)
              + (0.15 + 1.8 * em * legend_rows if entries else 0.0))
    figure = Figure(figsize=(width, height), dpi=dpi, layout='constrained', facecolor='white')
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(len(rows), columns, height_ratios=aspects)
    for r, row in enumerate(rows):
        for c, panel in enumerate(row):
            axes = figure.add_subplot(grid[r, c])
            axes.imshow(panel.image, interpolation='nearest' if panel.labels is not None
                        else 'antialiased')
            axes.set_title(panel.title, fontsize=font_size)
            axes.set_axis_off()
    if entries:
        handles = [Patch(facecolor=np.asarray(colour) / 255.0, edgecolor='black', linewidth=0.5,
                         label=name) for name, colour in entries]
        figure.legend(handles=handles, loc='outside lower center', ncol=legend_columns,
                      frameon=False, fontsize=font_size - 1)
    return figure


def save_figure(figure, path: str) -> None:
    """Write a :func:`draw_figure` figure as PNG at its own size and resolution."""
    figure.savefig(path, dpi=figure.dpi, facecolor='white')
