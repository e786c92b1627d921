"""A horizontal bar chart of the rate scores, drawn with Pillow (no matplotlib).

Each bar is a score in [0, 1]; a dark tick marks its gate threshold when there is one
(the exact-quote scores have none yet). Scores the run could not measure are drawn as "n/a".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from rag.evaluation.overall import LOWER_IS_BETTER, SHARES

WIDTH, ROW, TOP, LEFT, RIGHT = 760, 30, 48, 190, 70
GOOD, BAD, TICK, TEXT = (76, 132, 196), (214, 118, 80), (30, 30, 30), (20, 20, 20)


def draw_chart(
    scores: Mapping[str, Any], title: str, path: Path, bounds: Mapping[str, float] | None = None
) -> Path:
    """Write the chart to ``path`` (PNG); ``bounds`` maps a score to its gate threshold."""
    height = TOP + ROW * len(SHARES) + 20
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    draw.text((12, 12), title, fill=TEXT, font=font)
    span = WIDTH - LEFT - RIGHT
    for row, name in enumerate(SHARES):
        y = TOP + row * ROW
        draw.text((12, y + 4), name, fill=TEXT, font=font)
        draw.rectangle((LEFT, y + 4, LEFT + span, y + ROW - 6), outline=(200, 200, 200))
        value = scores.get(name)
        if value is None:
            draw.text((LEFT + 6, y + 4), "n/a", fill=(120, 120, 120), font=font)
            continue
        colour = BAD if name in LOWER_IS_BETTER else GOOD  # a high false-refusal rate is bad
        width = round(span * min(max(float(value), 0.0), 1.0))
        draw.rectangle((LEFT, y + 4, LEFT + width, y + ROW - 6), fill=colour)
        draw.text((LEFT + span + 8, y + 4), f"{value:.2f}", fill=TEXT, font=font)
        if bounds and name in bounds:
            x = LEFT + round(span * bounds[name])
            draw.line((x, y + 1, x, y + ROW - 3), fill=TICK, width=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path
