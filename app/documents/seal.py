"""The seal image printed over the 署名 and 成文日期.

Production configures the bureau's seal as a PNG with a transparent background
(`OA_DOC_SEAL_IMAGE`). Without it, a DEMO seal is drawn here: a red ring, a star and the words
“演示印章 无效”, so that nobody can mistake a demo document for a real one.
"""

from __future__ import annotations

import functools
import io
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from app.documents.config import doc_settings
from app.documents.fonts import UMING

RED = (220, 20, 30, 235)
SIZE = 600  # pixels for 42 mm: about 360 dpi


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(str(UMING), size, index=0)
    except OSError:
        return ImageFont.load_default()


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float) -> None:
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.382
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    draw.polygon(points, fill=RED)


@functools.lru_cache(maxsize=1)
def demo_seal_png() -> bytes:
    """A seal-like red ring with “演示印章 无效” around a star: clearly not a real seal."""
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    margin = 12
    draw.ellipse((margin, margin, SIZE - margin, SIZE - margin), outline=RED, width=18)
    _star(draw, SIZE / 2, SIZE / 2, SIZE * 0.17)
    font = _font(int(SIZE * 0.11))
    text = "演示印章仅供测试"
    radius = SIZE / 2 - margin - 70
    span = math.radians(220)
    for index, char in enumerate(text):
        angle = math.radians(-90) - span / 2 + span * index / (len(text) - 1)
        glyph = Image.new("RGBA", (90, 90), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((45, 45), char, font=font, fill=RED, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle) - 90, resample=Image.BICUBIC)
        x = SIZE / 2 + radius * math.cos(angle) - 45
        y = SIZE / 2 + radius * math.sin(angle) - 45
        image.alpha_composite(glyph, (int(x), int(y)))
    label = _font(int(SIZE * 0.09))
    draw.text((SIZE / 2, SIZE * 0.75), "无  效", font=label, fill=RED, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def seal_png() -> bytes:
    configured = doc_settings().seal_image
    if configured and Path(configured).is_file():
        return Path(configured).read_bytes()
    return demo_seal_png()
