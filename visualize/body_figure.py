"""A body picture for the patient handout: a front and a back figure (SVG, drawn here) marking where it
hurts (red), what to stretch (green) and what to strengthen (blue).

Marks are placed by the KB's region ids (``head`` ... ``foot``) with the side of the body; a few ids
that sit at the back of a region (``posterior_thigh``, ``hamstrings``, ...) are drawn on the back
figure. Left and right are the person's: on the front figure the person's right is on the viewer's
left, on the back figure it is on the viewer's right, and both figures say so with R and L.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

__all__ = ["COLOURS", "Mark", "body_marks", "body_svg"]

#: kind -> (fill colour, words in the legend)
COLOURS = {"pain": ("#d62828", "where it hurts"), "stretch": ("#2a9d8f", "stretch"),
           "strengthen": ("#1d4ed8", "strengthen")}

#: region id -> (distance from the midline, height, half-width, half-height) on a 120 x 340 figure
_REGIONS: dict[str, tuple[float, float, float, float]] = {
    "head": (0, 26, 14, 16), "jaw": (8, 40, 6, 5), "neck": (6, 56, 6, 7), "shoulder": (34, 72, 9, 8),
    "chest": (15, 92, 11, 10), "upper_back": (14, 92, 11, 12), "arm": (44, 108, 6, 14),
    "elbow": (47, 134, 6, 6), "wrist_hand": (52, 170, 6, 9), "abdomen": (9, 126, 9, 11),
    "lower_back": (10, 136, 9, 10), "pelvis": (14, 162, 11, 10), "hip": (24, 164, 7, 9),
    "thigh": (14, 204, 9, 18), "knee": (14, 244, 8, 8), "lower_leg": (13, 280, 7, 16),
    "ankle": (13, 310, 6, 5), "foot": (15, 324, 8, 5),
}
#: Regions drawn only on the back figure (everything else defaults to the front).
_BACK_REGIONS = frozenset({"upper_back", "lower_back", "pelvis"})
#: Ids in a front region that sit at the back of the body (pain sites and muscles).
_BACK_IDS = frozenset({
    "posterior_thigh", "posterior_knee", "calf", "heel", "achilles", "hamstrings", "gastrocnemius_soleus",
    "gluteus_medius", "upper_trapezius", "levator_scapulae", "suboccipitals", "infraspinatus",
})
#: Ids in a back region that sit at the front (the groin side of the pelvis).
_FRONT_IDS = frozenset({"iliopsoas", "groin"})
#: Ids on the inner side of their region (drawn nearer the midline).
_INNER_IDS = frozenset({"hip_adductors", "vastus_medialis", "groin", "tibialis_posterior"})
_FIGURE_WIDTH = 120
_FRONT_X, _BACK_X = 80, 240


@dataclass(frozen=True)
class Mark:
    """One mark on the body picture: ``kind`` pain | stretch | strengthen, at a KB ``region``."""

    kind: str
    region: str
    side: str | None  # left | right | None (both sides, or the midline)
    item: str  # the pain site or muscle id
    label: str

    @property
    def view(self) -> str:
        """front or back: the figure this mark is drawn on."""
        if self.item in _FRONT_IDS:
            return "front"
        if self.item in _BACK_IDS or self.region in _BACK_REGIONS:
            return "back"
        return "front"


def _sides(side: object) -> list[str | None]:
    if side in ("left", "right"):
        return [str(side)]
    return [None]


def body_marks(report) -> list[Mark]:
    """The marks of a report: its pain sites (from the case) and, unless the plan is withheld, its targets."""
    kb = report.kb
    marks = []
    for item in report.data.case.get("pain", []):
        site = kb.pain_sites.get(item.get("site", ""))
        if site is not None:
            for side in _sides(item.get("side")):
                marks.append(Mark("pain", site.region, side, site.id, site.label))
    if not report.plan_withheld:
        for target in report.targets:
            if target.withheld is None:
                marks.append(Mark(target.action, target.region, target.side, target.muscle, target.label))
    return list(dict.fromkeys(marks))


def _centres(mark: Mark) -> list[tuple[float, float]]:
    """Where a mark goes: one point per side of the body it covers (the person's left/right)."""
    dx, y, _, _ = _REGIONS.get(mark.region, (0, 170, 8, 8))
    if mark.item.startswith("lateral_"):
        dx += 5
    elif mark.item.startswith("medial_") or mark.item in _INNER_IDS:
        dx = max(dx - 6, 3)
    mid = _FRONT_X if mark.view == "front" else _BACK_X
    # front view: the person's right is on the viewer's left; back view: on the viewer's right
    right = -1 if mark.view == "front" else 1
    sides = [mark.side] if mark.side else (["right", "left"] if dx else [None])
    return [(mid + (dx * right if s == "right" else -dx * right if s == "left" else 0), y) for s in sides]


_NUDGE = {"pain": 0.0, "stretch": -3.0, "strengthen": 3.0}


def _mark_svg(mark: Mark) -> str:
    colour = COLOURS[mark.kind][0]
    _, _, rx, ry = _REGIONS.get(mark.region, (0, 170, 8, 8))
    scale = 1.0 if mark.kind == "pain" else 0.7
    title = f"{COLOURS[mark.kind][1]}: {mark.label}" + (f" ({mark.side})" if mark.side else "")
    return "".join(
        f'<ellipse class="mark {mark.kind}" data-kind="{mark.kind}" data-region="{escape(mark.region)}" '
        f'data-item="{escape(mark.item)}" data-side="{mark.side or "both"}" data-view="{mark.view}" '
        f'cx="{x:g}" cy="{y + _NUDGE[mark.kind]:g}" rx="{rx * scale:g}" ry="{ry * scale:g}" '
        f'fill="{colour}" fill-opacity="0.6" stroke="{colour}" stroke-width="1"><title>{escape(title)}</title></ellipse>'
        for x, y in _centres(mark))


def _figure(mid: float) -> str:
    """One plain standing figure centred on ``mid`` (the same outline for the front and the back)."""
    limb = 'stroke="#d9dee3" stroke-linecap="round" fill="none"'
    return (
        f'<circle cx="{mid}" cy="26" r="15" fill="#eef1f4" stroke="#adb5bd"/>'
        f'<line x1="{mid}" y1="42" x2="{mid}" y2="62" {limb} stroke-width="12"/>'
        f'<path d="M{mid - 34},66 L{mid + 34},66 L{mid + 24},150 L{mid + 26},172 L{mid - 26},172 '
        f'L{mid - 24},150 Z" fill="#eef1f4" stroke="#adb5bd"/>'
        f'<path d="M{mid - 36},70 L{mid - 48},134 L{mid - 54},176" {limb} stroke-width="11"/>'
        f'<path d="M{mid + 36},70 L{mid + 48},134 L{mid + 54},176" {limb} stroke-width="11"/>'
        f'<path d="M{mid - 14},170 L{mid - 14},244 L{mid - 13},316 L{mid - 20},326" {limb} stroke-width="15"/>'
        f'<path d="M{mid + 14},170 L{mid + 14},244 L{mid + 13},316 L{mid + 20},326" {limb} stroke-width="15"/>')


def _captions() -> str:
    text = 'font-family="DejaVu Sans, Helvetica, sans-serif" font-size="10" fill="#495057" text-anchor="middle"'
    half = _FIGURE_WIDTH / 2 - 4
    return (
        f'<text x="{_FRONT_X}" y="352" {text}>Front</text><text x="{_BACK_X}" y="352" {text}>Back</text>'
        f'<text class="side-label" x="{_FRONT_X - half}" y="20" {text}>R</text>'
        f'<text class="side-label" x="{_FRONT_X + half}" y="20" {text}>L</text>'
        f'<text class="side-label" x="{_BACK_X - half}" y="20" {text}>L</text>'
        f'<text class="side-label" x="{_BACK_X + half}" y="20" {text}>R</text>')


def _legend(kinds: list[str]) -> str:
    parts = []
    for i, kind in enumerate(kinds):
        colour, words = COLOURS[kind]
        y = 372 + 14 * i
        parts.append(f'<circle cx="30" cy="{y - 3}" r="5" fill="{colour}" fill-opacity="0.6" stroke="{colour}"/>'
                     f'<text x="42" y="{y}" font-family="DejaVu Sans, Helvetica, sans-serif" font-size="10" '
                     f'fill="#212529">{words}</text>')
    return "".join(parts)


def body_svg(marks: list[Mark], title: str = "Body picture") -> str:
    """The SVG picture (front and back) for ``marks``; the legend lists only the kinds present."""
    kinds = [k for k in COLOURS if any(m.kind == k for m in marks)]
    height = 372 + 14 * len(kinds)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="body-figure" viewBox="0 0 320 {height}" '
            f'width="320" height="{height}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'{_figure(_FRONT_X)}{_figure(_BACK_X)}{_captions()}'
            f'{"".join(_mark_svg(m) for m in marks)}{_legend(kinds)}</svg>')
