"""Bar charts drawn on the server as SVG geometry: no chart library in the browser."""

from dataclasses import dataclass


@dataclass
class Bar:
    label: str
    value: float
    text: str
    y: int
    width: float


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_height: int


def bar_chart(chart_id: str, title: str, desc: str, rows, *, width: int = 640, label_width: int = 250,
              bar_height: int = 22, gap: int = 8) -> Chart:
    """Horizontal bars for `rows` of (label, value, shown text), scaled to the largest value."""
    rows = list(rows)
    top = max((value for _, value, _ in rows), default=0) or 1
    room = width - label_width - 70  # space left for the value written after the bar
    bars = [Bar(str(label), value, text, gap + i * (bar_height + gap), round(room * value / top, 1))
            for i, (label, value, text) in enumerate(rows)]
    return Chart(chart_id, title, desc, bars, width, gap + len(rows) * (bar_height + gap), label_width, bar_height)
