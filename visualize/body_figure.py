"""A body picture for the patient handout: the body atlas's front and back figures side by side,
marking where it hurts (the pain site's zone, red), what to stretch (green) and what to strengthen
(blue), with thin dashed lines from a target to the pain it leads to.

The figures, zones and anchors come from :mod:`compensa.visualize.body_atlas`, the same geometry the
web page's body map draws, so the handout and the page agree. Left and right are the person's: on the
front figure the person's right is on the viewer's left, on the back figure it is on the viewer's
right, and both figures say so with R and L.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from compensa.visualize.body_atlas import MIDLINE, VIEW_HEIGHT, VIEW_WIDTH, shift_path, zone_geometry

__all__ = ["COLOURS", "Mark", "body_chains", "body_marks", "body_svg"]

#: kind -> (fill colour, words in the legend)
COLOURS = {"pain": ("#d62828", "where it hurts"), "stretch": ("#2a9d8f", "stretch"),
           "strengthen": ("#1d4ed8", "strengthen")}
_CHAIN_COLOUR = "#6c757d"
#: where each view is drawn in the picture (x offset) and its midline there
_OFFSET = {"front": 0.0, "back": float(VIEW_WIDTH + 20)}
_FRONT_X = MIDLINE + _OFFSET["front"]
_BACK_X = MIDLINE + _OFFSET["back"]
_WIDTH = 2 * VIEW_WIDTH + 20
_FONT = 'font-family="DejaVu Sans, Helvetica, sans-serif"'

#: (muscle id, side, pain site id, pain side): one line from a target to the pain it leads to
Chain = tuple[str, "str | None", str, "str | None"]


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
        """front or back: the (first) figure this mark is drawn on."""
        views = [a["view"] for a in _anchors(self)]
        return views[0] if views else "front"


def _anchors(mark: Mark) -> list[dict]:
    table = zone_geometry()["anchors"]["pain" if mark.kind == "pain" else "muscle"]
    return table.get(mark.item, [])


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


def body_chains(report) -> list[Chain]:
    """The chain lines of a report: each shown target to the pain site its chain ends at, on the sides
    that hurt there (none when the plan is withheld)."""
    if report.plan_withheld:
        return []
    pain = report.data.case.get("pain", [])
    chains: list[Chain] = []
    for target in report.targets:
        chain = list(target.chain or [])
        if target.withheld is not None or not chain or chain[-1] not in report.kb.pain_sites:
            continue
        sides = [item.get("side") if item.get("side") in ("left", "right") else None
                 for item in pain if item.get("site") == chain[-1]] or [None]
        for side in sides:
            chains.append((target.muscle, target.side, chain[-1], side))
    return list(dict.fromkeys(chains))


def _zones(site: str, side: str | None) -> list[tuple[str, dict]]:
    """The atlas zones (view, zone) of a pain site on a side (None: every side it has)."""
    views = zone_geometry()["views"]
    return [(view, z) for view in ("front", "back") for z in views[view]["zones"]
            if z["site"] == site and (side is None or z["side"] in (side, None))]


def _title(mark: Mark, side: str | None) -> str:
    return f"{COLOURS[mark.kind][1]}: {mark.label}" + (f" ({side})" if side else "")


def _attrs(mark: Mark, view: str, side: str | None, x: float, y: float) -> str:
    return (f'data-kind="{escape(mark.kind)}" data-region="{escape(mark.region)}" data-item="{escape(mark.item)}" '
            f'data-side="{side or "both"}" data-view="{view}" data-cx="{x:g}" data-cy="{y:g}"')


def _pain_svg(mark: Mark) -> str:
    colour = COLOURS["pain"][0]
    out = []
    for view, zone in _zones(mark.item, mark.side):
        off = _OFFSET[view]
        side = zone["side"]
        out.append(f'<path class="mark pain" {_attrs(mark, view, side, zone["cx"] + off, zone["cy"])} '
                   f'd="{shift_path(zone["d"], off)}" fill="{colour}" fill-opacity="0.55" stroke="{colour}" '
                   f'stroke-width="1"><title>{escape(_title(mark, side))}</title></path>')
    return "".join(out)


_NUDGE = {"stretch": -1.5, "strengthen": 1.5}


def _muscle_svg(mark: Mark) -> str:
    colour = COLOURS[mark.kind][0]
    out = []
    for anchor in _anchors(mark):
        if mark.side is not None and anchor["side"] != mark.side:
            continue
        x, y = anchor["x"] + _OFFSET[anchor["view"]], anchor["y"] + _NUDGE.get(mark.kind, 0.0)
        out.append(f'<ellipse class="mark {escape(mark.kind)}" {_attrs(mark, anchor["view"], anchor["side"], x, y)} '
                   f'cx="{x:g}" cy="{y:g}" rx="5" ry="6" fill="{colour}" fill-opacity="0.7" stroke="#ffffff" '
                   f'stroke-width="1"><title>{escape(_title(mark, anchor["side"]))}</title></ellipse>')
    return "".join(out)


def _chain_svg(chain: Chain) -> str:
    muscle, side, site, pain_side = chain
    anchors = zone_geometry()["anchors"]["muscle"].get(muscle, [])
    out = []
    for anchor in anchors:
        if side is not None and anchor["side"] != side:
            continue
        for view, zone in _zones(site, pain_side):
            if view != anchor["view"]:
                continue
            if zone["side"] and anchor["side"] != zone["side"] and (side is None or pain_side is None):
                continue  # both sides: join right to right and left to left
            off = _OFFSET[view]
            x1, y1, x2, y2 = anchor["x"] + off, anchor["y"], zone["cx"] + off, zone["cy"]
            if abs(x1 - x2) + abs(y1 - y2) < 2:
                continue
            out.append(f'<line class="chain" data-from="{escape(muscle)}" data-to="{escape(site)}" '
                       f'data-side="{anchor["side"]}" data-view="{view}" x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" '
                       f'y2="{y2:g}" stroke="{_CHAIN_COLOUR}" stroke-width="1.2" stroke-dasharray="3 2" '
                       f'stroke-linecap="round"/>')
    return "".join(out)


def _figures() -> str:
    views = zone_geometry()["views"]
    parts = []
    for view in ("front", "back"):
        off = _OFFSET[view]
        parts += [f'<path class="outline" d="{shift_path(d, off)}" fill="#f3ebe4" stroke="#8d7f75" '
                  f'stroke-width="1.2" stroke-linejoin="round"/>' for d in views[view]["outline"]]
        parts += [f'<path class="detail" d="{shift_path(d, off)}" fill="none" stroke="#bcaea3" stroke-width="0.8" '
                  f'stroke-linecap="round"/>' for d in views[view]["details"]]
    return "".join(parts)


def _captions() -> str:
    text = f'{_FONT} font-size="12" fill="#495057" text-anchor="middle"'
    views = zone_geometry()["views"]
    parts = [f'<text x="{_FRONT_X:g}" y="{VIEW_HEIGHT + 16}" {text}>Front</text>'
             f'<text x="{_BACK_X:g}" y="{VIEW_HEIGHT + 16}" {text}>Back</text>']
    for view in ("front", "back"):
        for label in views[view]["side_labels"]:
            parts.append(f'<text class="side-label" x="{label["x"] + _OFFSET[view]:g}" y="{label["y"]}" '
                         f'{text} font-weight="bold">{escape(label["text"])}</text>')
    return "".join(parts)


def _legend(kinds: list[str], chained: bool, top: float) -> str:
    parts = []
    for i, kind in enumerate(kinds):
        colour, words = COLOURS[kind]
        y = top + 16 * i
        parts.append(f'<circle cx="30" cy="{y - 4:g}" r="5" fill="{colour}" fill-opacity="0.7" stroke="{colour}"/>'
                     f'<text x="42" y="{y:g}" {_FONT} font-size="12" fill="#212529">{words}</text>')
    if chained:
        y = top + 16 * len(kinds)
        parts.append(f'<line x1="22" y1="{y - 4:g}" x2="38" y2="{y - 4:g}" stroke="{_CHAIN_COLOUR}" stroke-width="1.2" '
                     f'stroke-dasharray="3 2"/><text x="42" y="{y:g}" {_FONT} font-size="12" fill="#212529">'
                     f'leads to the pain</text>')
    return "".join(parts)


def body_svg(marks: list[Mark], title: str = "Body picture", chains: list[Chain] | None = None) -> str:
    """The SVG picture (front and back) for ``marks``, with ``chains`` drawn as dashed lines from a
    target muscle's anchor to the pain zone it leads to (on a view that shows both); the legend lists
    only the kinds present. Every label is escaped; the SVG has no script and no external reference."""
    kinds = [k for k in COLOURS if any(m.kind == k for m in marks)]
    lines = "".join(_chain_svg(c) for c in chains or [])
    top = VIEW_HEIGHT + 40
    height = top + 16 * (len(kinds) + bool(lines))
    pains = "".join(_pain_svg(m) for m in marks if m.kind == "pain")
    muscles = "".join(_muscle_svg(m) for m in marks if m.kind != "pain")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="body-figure" viewBox="0 0 {_WIDTH} {height}" '
            f'width="{_WIDTH * 0.85:g}" height="{height * 0.85:g}" role="img" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title>{_figures()}{pains}{lines}{muscles}{_captions()}'
            f'{_legend(kinds, bool(lines), top)}</svg>')
