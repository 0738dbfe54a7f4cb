"""Charts drawn on the server as inline SVG: no chart library, no internet, readable in any browser."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from sync.server.web.figures import DayFigures

_WIDTH = 600
_HEIGHT = 170
_LEFT = 4
_RIGHT = 4
_TOP = 18
_BOTTOM = 22


def daily_sales_chart(
    days: Sequence[DayFigures],
    *,
    money: Callable[[int], str],
    day_label: Callable[[DayFigures], str],
    title: str,
) -> Markup:
    """One bar per day (sales amount), the part claimed by online accounts drawn over it.

    Each bar carries a <title> with its day and figures, so hovering or a screen reader tells
    the numbers the picture only suggests.
    """
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    peak = max((d.amount for d in days), default=0)
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.72, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_WIDTH - _RIGHT}" y2="{_TOP + plot_h}"/>',
    ]
    if peak > 0:
        parts.append(f'<text x="{_LEFT}" y="12">{escape(money(peak))}</text>')
    for i, d in enumerate(days):
        x = _LEFT + i * slot + (slot - bar_w) / 2
        h = plot_h * d.amount / peak if peak > 0 else 0.0
        ch = plot_h * d.claimed / peak if peak > 0 else 0.0
        tip = f"{day_label(d)}: {d.sales} · {money(d.amount)} · online {money(d.claimed)}"
        parts.append(f"<g><title>{escape(tip)}</title>")
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}"/>'
        )
        if ch > 0:
            parts.append(
                f'<rect class="bar claimed" x="{x:.1f}" y="{_TOP + plot_h - ch:.1f}" '
                f'width="{bar_w:.1f}" height="{ch:.1f}"/>'
            )
        parts.append("</g>")
    for i in (0, len(days) // 2, len(days) - 1):
        if 0 <= i < len(days):
            anchor = "start" if i == 0 else "end" if i == len(days) - 1 else "middle"
            x = _LEFT + i * slot + (slot / 2 if anchor == "middle" else 0 if anchor == "start" else slot)
            parts.append(
                f'<text x="{x:.1f}" y="{_HEIGHT - 6}" text-anchor="{anchor}">{escape(day_label(days[i]))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
