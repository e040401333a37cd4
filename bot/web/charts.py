"""Bar charts as inline SVG rendered on the server: no JavaScript, no CDN, readable as text.

Each chart carries a ``<title>`` and ``<desc>`` and every bar a ``<title>`` with its value, and
the page shows the same numbers in a table, so screen-reader users get the figures too.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 220
_MARGIN_LEFT = 44
_MARGIN_BOTTOM = 46
_MARGIN_TOP = 16
_BAR_COLOUR = "#1f5f8b"  # 7.0:1 against white
_AXIS_COLOUR = "#333333"


def bar_chart(
    title: str,
    points: Sequence[tuple[str, float]],
    value_format: str = "{:.0f}",
    maximum: float | None = None,
) -> Markup:
    """Draw a bar chart.

    Args:
        title: Chart title (also the accessible name).
        points: Label and value of each bar, in order.
        value_format: Format of the values shown on the bars.
        maximum: Top of the scale; the largest value if None.

    Returns:
        Safe SVG markup (labels are escaped).
    """
    top = max([maximum or 0.0, *(value for _label, value in points)]) or 1.0
    plot_width = WIDTH - _MARGIN_LEFT - 8
    plot_height = HEIGHT - _MARGIN_BOTTOM - _MARGIN_TOP
    slot = plot_width / max(len(points), 1)
    bar_width = max(4.0, slot * 0.7)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="chart" aria-labelledby="t-{id(points)}">',
        f'<title id="t-{id(points)}">{escape(title)}</title>',
        f"<desc>{escape(_description(points, value_format))}</desc>",
        f'<line x1="{_MARGIN_LEFT}" y1="{HEIGHT - _MARGIN_BOTTOM}" x2="{WIDTH - 8}" '
        f'y2="{HEIGHT - _MARGIN_BOTTOM}" stroke="{_AXIS_COLOUR}"/>',
        f'<text x="{_MARGIN_LEFT - 6}" y="{_MARGIN_TOP + 4}" text-anchor="end" '
        f'font-size="11" fill="{_AXIS_COLOUR}">{escape(value_format.format(top))}</text>',
    ]
    for index, (label, value) in enumerate(points):
        height = plot_height * max(value, 0.0) / top
        x = _MARGIN_LEFT + index * slot + (slot - bar_width) / 2
        y = HEIGHT - _MARGIN_BOTTOM - height
        text = value_format.format(value)
        parts.append(
            f"<g><title>{escape(label)}: {escape(text)}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{height:.1f}" '
            f'fill="{_BAR_COLOUR}"/>'
            f'<text x="{x + bar_width / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
            f'font-size="11" fill="{_AXIS_COLOUR}">{escape(text)}</text>'
            f'<text x="{x + bar_width / 2:.1f}" y="{HEIGHT - _MARGIN_BOTTOM + 14}" '
            f'text-anchor="end" font-size="10" fill="{_AXIS_COLOUR}" '
            f'transform="rotate(-35 {x + bar_width / 2:.1f} {HEIGHT - _MARGIN_BOTTOM + 14})">'
            f"{escape(label)}</text></g>"
        )
    if not points:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="14" '
            f'fill="{_AXIS_COLOUR}">Inga ärenden i urvalet</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def _description(points: Sequence[tuple[str, float]], value_format: str) -> str:
    return ", ".join(f"{label}: {value_format.format(value)}" for label, value in points)
