"""One anatomical body atlas: a front and a back figure as SVG path data, a touchable zone for every
KB pain site (per side), and an anchor point for every KB muscle and pain site.

The web page's body map (``GET /v1/body-atlas``) and the handout's body picture
(:mod:`compensa.visualize.body_figure`) both draw from here, so the two pictures agree.

Geometry. Each view is ``VIEW_WIDTH`` x ``VIEW_HEIGHT`` (200 x 440) with the midline at
``MIDLINE`` (x = 100). Everything is written once for one half of the body as distances from the
midline (``dx``) and mirrored, so the figure is symmetric. Smooth outlines are cubic Bezier curves
through hand-placed anatomical landmarks (Catmull-Rom tangents; a landmark marked as a corner keeps
its kink: the armpit, the crotch, between the ear and the skull).

Sides are the person's. The front view faces the viewer, so the person's right is on the viewer's
left (x < 100); the back view shows the back, so the person's right is on the viewer's right.
Path data uses only absolute ``M``, ``C`` and ``Z`` commands, so it is easy to check and to shift.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["MIDLINE", "MUSCLE_ANCHORS", "VIEW_HEIGHT", "VIEW_WIDTH", "ZONES", "atlas", "flatten", "shift_path",
           "zone_geometry"]

VIEW_WIDTH = 200
VIEW_HEIGHT = 440
MIDLINE = 100.0
VIEWS = ("front", "back")

Point = tuple[float, float]
#: a landmark: (dx from the midline, y, keeps a corner)
Knot = tuple[float, float, bool]

# --- the silhouette ----------------------------------------------------------------------------------
#: The viewer's left half of the outline, from the top of the head down and round to the crotch, as
#: (dx, y, corner) with an optional landmark name used to cut out limb edges.
_HALF: list[tuple[float, float, bool, str]] = [
    (0, 5.5, False, "vertex"), (11, 8, False, ""), (17.5, 16.5, False, ""), (19.6, 28, True, ""),  # skull
    (21.8, 30.5, False, ""), (22.4, 37, False, ""), (20.2, 43.5, True, ""),  # ear
    (18.2, 48, False, ""), (14.8, 53.5, True, "jaw"),  # angle of the jaw
    (10.6, 59, False, ""), (10.6, 65, False, ""), (13, 70, False, "neck_base"),  # neck
    (22, 74.2, False, ""), (33, 78.4, False, ""), (42, 82.6, False, "acromion"),  # trapezius slope
    (48.2, 90.5, False, ""), (50.2, 101, False, "deltoid"), (49.6, 118, False, ""),  # deltoid
    (49.4, 136, False, ""), (52.6, 155, False, "elbow_out"), (56.6, 172, False, ""),  # arm, elbow
    (58, 192, False, ""), (58.4, 211, False, "wrist_out"),  # forearm, wrist
    (61, 217, False, ""), (63.8, 224, False, ""), (65.8, 231.5, False, ""), (65.8, 238.4, False, ""),  # thumb
    (64, 241.4, False, ""), (62.2, 240, False, ""), (61, 235.4, True, ""), (62.4, 245, False, ""),  # hand
    (61.4, 254, False, ""),
    (57.6, 259.5, False, ""),
    (53.6, 259.8, False, ""), (50.2, 254, False, ""), (48.6, 238, False, ""),
    (48.6, 222, False, ""), (49, 211, False, "wrist_in"), (45.6, 192, False, ""),  # wrist, forearm
    (41.4, 172, False, ""), (37, 156, False, "elbow_in"), (36.4, 138, False, ""),  # elbow
    (35.8, 120, False, ""), (34.4, 107, True, "armpit"),  # upper arm, armpit
    (33.4, 118, False, ""), (31.2, 135, False, ""), (27.6, 152, False, "waist"),  # chest, waist
    (29, 168, False, ""), (34.4, 186, False, ""), (37.4, 203, False, "trochanter"),  # hip
    (37, 222, False, ""), (34, 248, False, ""), (30.4, 272, False, ""),  # thigh
    (27.4, 292, False, "knee_out"), (27.2, 306, False, ""), (29, 325, False, ""),  # knee, calf
    (27.6, 345, False, ""), (23.2, 370, False, ""), (20.2, 391, False, "ankle_out"),  # leg, ankle
    (22.4, 402, False, ""), (24.2, 413, False, ""), (27, 425, False, ""),  # lateral malleolus, foot
    (26.4, 433.5, False, ""), (20, 437, False, ""), (10, 437, False, ""), (5.8, 433.5, False, ""),  # toes
    (5.2, 424, False, ""), (5.8, 412, False, ""), (6.4, 400, False, ""),  # inner foot, medial malleolus
    (8.2, 391, False, "ankle_in"), (8.4, 381, False, ""), (6, 360, False, ""),  # ankle, inner leg
    (3.6, 336, False, ""), (4.6, 316, False, ""), (5, 300, False, "knee_in"),  # calf, knee
    (4.4, 284, False, ""), (3.4, 256, False, ""), (2.2, 230, False, ""),  # inner thigh
    (0, 216, True, "crotch"),
]


def _loop() -> list[Knot]:
    """The whole outline in dx coordinates: the half, then its mirror image back up to the head."""
    half = [(dx, y, c) for dx, y, c, _ in _HALF]
    return half + [(-dx, y, c) for dx, y, c in reversed(half[1:-1])]


def _controls(knots: Sequence[Knot], closed: bool = True) -> list[tuple[Point, Point, Point, Point]]:
    """Cubic segments through ``knots`` (Catmull-Rom tangents; a corner knot keeps its kink)."""
    n = len(knots)
    out = []
    for i in range(n if closed else n - 1):
        p0, p1, p2, p3 = (knots[(i + k) % n] if closed else knots[min(max(i + k, 0), n - 1)] for k in (-1, 0, 1, 2))
        if p1[2]:
            c1 = (p1[0] + (p2[0] - p1[0]) / 3, p1[1] + (p2[1] - p1[1]) / 3)
        else:
            c1 = (p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6)
        if p2[2]:
            c2 = (p2[0] - (p2[0] - p1[0]) / 3, p2[1] - (p2[1] - p1[1]) / 3)
        else:
            c2 = (p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6)
        out.append(((p1[0], p1[1]), c1, c2, (p2[0], p2[1])))
    return out


def _bezier(seg: tuple[Point, Point, Point, Point], steps: int = 10) -> list[Point]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = seg
    pts = []
    for k in range(1, steps + 1):
        t = k / steps
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
        pts.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return pts


def _num(v: float) -> str:
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else ("0" if text == "-0" else text)


def _to_x(dx: float, sign: int) -> float:
    return MIDLINE + sign * dx


def _path(knots: Sequence[Knot], sign: int = -1, closed: bool = True) -> str:
    """Path data for ``knots`` (dx coordinates) on the side ``sign`` (-1: the viewer's left)."""
    pts = [(_to_x(dx, sign), y, c) for dx, y, c in knots]
    segs = _controls(pts, closed)
    parts = [f"M{_num(pts[0][0])} {_num(pts[0][1])}"]
    for _, c1, c2, p2 in segs:
        parts.append(f"C{_num(c1[0])} {_num(c1[1])} {_num(c2[0])} {_num(c2[1])} {_num(p2[0])} {_num(p2[1])}")
    if closed:
        parts.append("Z")
    return "".join(parts)


def flatten(d: str, steps: int = 8) -> list[list[Point]]:
    """The polylines (one per subpath) of path data made of absolute M, L, C, Q and Z commands."""
    import re

    tokens = re.findall(r"[MLCQZ]|-?\d+(?:\.\d+)?", d)
    subpaths: list[list[Point]] = []
    i, cmd, cur = 0, "", (0.0, 0.0)
    while i < len(tokens):
        if tokens[i] in "MLCQZ":
            cmd = tokens[i]
            i += 1
            if cmd == "Z":
                continue
        nums = {"M": 2, "L": 2, "C": 6, "Q": 4}[cmd]
        vals = [float(t) for t in tokens[i:i + nums]]
        i += nums
        if cmd == "M":
            cur = (vals[0], vals[1])
            subpaths.append([cur])
            cmd = "L"
        elif cmd == "L":
            cur = (vals[0], vals[1])
            subpaths[-1].append(cur)
        elif cmd == "Q":
            (qx, qy), (x, y) = (vals[0], vals[1]), (vals[2], vals[3])
            c1 = (cur[0] + 2 / 3 * (qx - cur[0]), cur[1] + 2 / 3 * (qy - cur[1]))
            c2 = (x + 2 / 3 * (qx - x), y + 2 / 3 * (qy - y))
            subpaths[-1] += _bezier((cur, c1, c2, (x, y)), steps)
            cur = (x, y)
        else:
            seg = (cur, (vals[0], vals[1]), (vals[2], vals[3]), (vals[4], vals[5]))
            subpaths[-1] += _bezier(seg, steps)
            cur = seg[3]
    return subpaths


def shift_path(d: str, dx: float) -> str:
    """``d`` moved ``dx`` to the right (absolute commands only: every first number of a pair is an x)."""
    import re

    out, k = [], 0
    for token in re.findall(r"[MLCQZ]|-?\d+(?:\.\d+)?", d):
        if token in "MLCQZ":
            out.append(token)
            k = 0
            continue
        out.append(_num(float(token) + dx) if k % 2 == 0 else token)
        out.append(" ")
        k += 1
    return "".join(out).replace(" M", "M").replace(" C", "C").replace(" L", "L").replace(" Z", "Z").strip()


def _centroid(poly: Sequence[Point]) -> Point:
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(poly, list(poly[1:]) + [poly[0]]):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area) < 1e-9:
        return (sum(p[0] for p in poly) / len(poly), sum(p[1] for p in poly) / len(poly))
    return (cx / (3 * area), cy / (3 * area))


# --- limb edges, cut from the outline ------------------------------------------------------------------
Edge = Callable[[float], float]


def _edge(start: str, end: str) -> Edge:
    """dx of the outline as a function of y between two named landmarks of the half outline."""
    names = [name for *_, name in _HALF]
    i, j = names.index(start), names.index(end)
    lo, hi = min(i, j), max(i, j)
    segs = _controls(_loop())[lo:hi]
    pts = [segs[0][0]] + [p for seg in segs for p in _bezier(seg, 12)]
    pts.sort(key=lambda p: p[1])
    ys = [p[1] for p in pts]

    def at(y: float) -> float:
        k = bisect.bisect_left(ys, y)
        if k <= 0:
            return pts[0][0]
        if k >= len(pts):
            return pts[-1][0]
        (x0, y0), (x1, y1) = pts[k - 1], pts[k]
        return x0 if y1 == y0 else x0 + (x1 - x0) * (y - y0) / (y1 - y0)

    return at


ARM_OUT = _edge("acromion", "wrist_out")
ARM_IN = _edge("wrist_in", "armpit")
TORSO = _edge("armpit", "trochanter")
LEG_OUT = _edge("trochanter", "ankle_out")
LEG_IN = _edge("ankle_in", "crotch")


def _side(y: float) -> float:
    """The outer edge of the trunk and the leg (armpit to ankle)."""
    return TORSO(y) if y <= 203 else LEG_OUT(y)


def _band(inner: Edge, outer: Edge, y0: float, y1: float, u0: float, u1: float,
          sag0: float = 0.0, sag1: float = 0.0, rows: int = 6, cols: int = 4) -> list[Knot]:
    """A zone across a limb: between fractions ``u0``..``u1`` of the way from ``inner`` to ``outer``,
    from ``y0`` to ``y1``; the top and bottom edges bow down by ``sag`` in their middle (as creases do),
    so neighbouring zones that share a sag tile without overlapping."""

    def at(u: float, y: float) -> tuple[float, float]:
        a, b = inner(y), outer(y)
        return a + u * (b - a), y

    def cap(y: float, sag: float, us: Iterable[float]) -> list[Knot]:
        out = []
        for u in us:
            t = (u - u0) / (u1 - u0)
            x, yy = at(u, y + sag * 4 * t * (1 - t))
            out.append((x, yy, False))
        return out

    us = [u0 + (u1 - u0) * k / cols for k in range(cols + 1)]
    ys = [y0 + (y1 - y0) * k / rows for k in range(rows + 1)]
    top = cap(y0, sag0, us)
    bottom = cap(y1, sag1, list(reversed(us)))
    right = [(*at(u1, y), False) for y in ys[1:-1]]
    left = [(*at(u0, y), False) for y in reversed(ys[1:-1])]
    for part in (top, bottom):
        part[0] = (part[0][0], part[0][1], True)
        part[-1] = (part[-1][0], part[-1][1], True)
    return top + right + bottom + left


def _mirror(half: Sequence[Knot]) -> list[Knot]:
    """A midline shape from its half (dx >= 0, from the top midline point down to the bottom one)."""
    knots = list(half)
    return knots + [(-dx, y, c) for dx, y, c in reversed(knots[1:-1])]


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 8) -> list[Knot]:
    return [(cx + rx * math.sin(2 * math.pi * k / n), cy - ry * math.cos(2 * math.pi * k / n), False)
            for k in range(n)]


def _k(*points: tuple) -> list[Knot]:
    """Knots from (dx, y) or (dx, y, "c") tuples (a third item marks a corner)."""
    return [(p[0], p[1], len(p) > 2) for p in points]


def _const(v: float) -> Edge:
    return lambda _y: v


def _neg(edge: Edge, inset: float = 0.0) -> Edge:
    return lambda y: -(edge(y) - inset)


def _in(edge: Edge, inset: float) -> Edge:
    return lambda y: edge(y) - inset


# --- the zones ---------------------------------------------------------------------------------------
#: (view, pain site id, sided, knots in dx coordinates). A sided zone is drawn for both sides
#: (mirrored); a midline zone once. Knee, ankle and elbow zones are kept at least ~8 units wide.
_PATELLA = (16.2, 300.0)
ZONES: list[tuple[str, str, bool, list[Knot]]] = [
    # front
    ("front", "head", False, _mirror(_k((0, 9), (10.5, 10.8), (16.2, 18.5), (17.6, 29), (16.6, 40.5, "c"),
                                       (8, 46.5), (0, 48.4)))),
    ("front", "jaw", False, _mirror(_k((0, 49.8), (8.4, 48), (16.8, 42.2, "c"), (17.4, 46.5), (14, 52.5),
                                      (7.6, 56.6), (0, 58)))),
    ("front", "neck", False, _mirror(_k((0, 60.2), (6.2, 59.4), (10, 56.6, "c"), (9.8, 63), (11.4, 69),
                                       (13.2, 72.6, "c"), (6, 74.6), (0, 75)))),
    ("front", "chest", False, _mirror(_k((0, 76.6), (7, 76.2), (17, 77.6), (28.6, 81.6, "c"), (29.8, 95),
                                        (30.2, 108.6, "c"), (20, 114.2), (9, 115.4), (0, 115.4)))),
    ("front", "ribs", True, _k((8.4, 117.2, "c"), (20, 116), (30.9, 110.6, "c"), (31.8, 120), (30.9, 131.5),
                               (29.2, 142, "c"), (18, 141.2), (8.4, 140.4, "c"), (8, 128))),
    ("front", "shoulder", True, _k((30.2, 81.2, "c"), (39, 81.6), (46.2, 87.2), (49.6, 96), (49.4, 104.6, "c"),
                                   (42.5, 105.6), (35.6, 104.6, "c"), (31.4, 94))),
    ("front", "arm", True, _band(_in(ARM_IN, -0.4), _in(ARM_OUT, 0.4), 106.4, 146.6, 0.02, 0.98, 1.2, 1.2)),
    ("front", "medial_elbow", True, _band(ARM_IN, ARM_OUT, 148, 165, -0.05, 0.47, 1.2, 1.2, 4, 3)),
    ("front", "lateral_elbow", True, _band(ARM_IN, ARM_OUT, 148, 165, 0.53, 1.05, 1.2, 1.2, 4, 3)),
    ("front", "wrist_forearm", True, _band(ARM_IN, ARM_OUT, 166.6, 219, 0.0, 1.0, 1.2, 1.5)),
    ("front", "lateral_hip", True, _band(_in(_side, 10.5), _in(_side, -0.4), 172, 213, 0, 1, 0, 0, 5, 2)),
    ("front", "groin", True, _k((2, 198.4, "c"), (11, 194), (21.4, 186.2, "c"), (24, 194.6, "c"), (15, 205.6),
                                (6.4, 218.8, "c"), (2.2, 221.4, "c"))),
    ("front", "medial_thigh", True, _band(_in(LEG_IN, -0.4), LEG_OUT, 224, 282.6, 0, 0.29, 0, 0, 6, 2)),
    ("front", "anterior_thigh", True, _band(LEG_IN, LEG_OUT, 220.4, 282.6, 0.305, 0.695, 0, 0, 6, 3)),
    ("front", "lateral_thigh", True, _band(LEG_IN, _in(LEG_OUT, -0.4), 214.6, 282.6, 0.71, 1, 0, 0, 6, 2)),
    ("front", "anterior_knee", True, _ellipse(*_PATELLA, 5.3, 8.2)),
    ("front", "lateral_knee", True, _k((19.2, 285, "c"), (24.8, 286), (28, 294), (28.2, 306), (25.6, 315.6),
                                       (19.2, 317, "c"), (22.6, 308.8), (22.8, 300), (22.6, 291.2))),
    ("front", "medial_knee", True, _k((13.2, 285, "c"), (7.6, 286), (4.2, 294), (4.2, 306), (6.8, 315.6),
                                      (13.2, 317, "c"), (9.8, 308.8), (9.6, 300), (9.8, 291.2))),
    ("front", "shin", True, _band(LEG_IN, LEG_OUT, 320.4, 389, 0.16, 0.84, 1.5, 1.5)),
    ("front", "medial_ankle", True, _ellipse(9.6, 398, 4.4, 5.2)),
    ("front", "lateral_ankle", True, _ellipse(19.9, 402.4, 4.4, 5.2)),
    ("front", "foot_arch", True, _k((4.6, 408.2, "c"), (13, 408.8, "c"), (13, 423.4, "c"), (4.5, 423.4, "c"),
                                    (4.3, 416))),
    ("front", "midfoot", True, _k((14, 409.2, "c"), (23, 409.2, "c"), (25.4, 416), (26.4, 423.4, "c"),
                                  (14, 423.4, "c"))),
    ("front", "forefoot", True, _k((5.2, 425, "c"), (26.6, 425, "c"), (26.2, 432.6), (20, 436.2), (10, 436.2),
                                   (6, 432.8))),
    # back
    ("back", "head", False, _mirror(_k((0, 9), (10.5, 10.8), (16.2, 18.5), (17.6, 29), (16.8, 41), (12.6, 48.6),
                                      (0, 51.6)))),
    ("back", "neck", False, _mirror(_k((0, 53.4), (9.4, 51.6, "c"), (10, 60), (10.6, 66.4), (12.6, 71.6, "c"),
                                      (6, 73.6), (0, 74)))),
    ("back", "upper_back", False, _mirror(_k((0, 75.8), (12, 76.4, "c"), (22, 80), (28, 86, "c"), (28.6, 100),
                                            (29.6, 113), (30, 126.6, "c"), (16, 128.8), (0, 129.4)))),
    ("back", "shoulder", True, _k((30.2, 81.2, "c"), (39, 81.6), (46.2, 87.2), (49.6, 96), (49.4, 104.6, "c"),
                                  (42.5, 105.6), (35.6, 104.6, "c"), (31.4, 94))),
    ("back", "arm", True, _band(_in(ARM_IN, -0.4), _in(ARM_OUT, 0.4), 106.4, 216, 0.02, 0.98, 1.2, 1.2, 10)),
    ("back", "lower_back", False, _band(_neg(TORSO, 3.2), _in(TORSO, 3.2), 132, 165.4, 0, 1, 0, 0, 4, 6)),
    ("back", "sacroiliac", False, _mirror(_k((0, 167.4, "c"), (16, 167.4, "c"), (15, 177), (9.6, 187),
                                            (0, 194, "c")))),
    ("back", "buttock", True, _k((1.4, 196, "c"), (10.8, 188.4), (17, 177, "c"), (25, 171.4), (32.6, 180),
                                 (36.6, 197), (36, 212), (29, 224.6), (16, 229.2), (1.4, 227.2, "c"))),
    ("back", "posterior_thigh", True, _band(LEG_IN, LEG_OUT, 232, 282.6, 0.08, 0.92, 1.5, 0, 6)),
    ("back", "posterior_knee", True, _ellipse(*_PATELLA, 8.4, 11)),
    ("back", "calf", True, _band(LEG_IN, LEG_OUT, 313.6, 371.8, 0.06, 0.94, 1.5, 1.5, 6)),
    ("back", "achilles", True, _k((10, 373.8, "c"), (19.6, 373.8, "c"), (18, 388), (19.2, 404.4, "c"),
                                  (10.4, 404.4, "c"), (11.2, 388))),
    ("back", "heel", True, _ellipse(15.2, 420.4, 8.6, 10.6)),
]

#: muscle id -> (view, dx, y) for the person's sides; placed where a clinician would point.
MUSCLE_ANCHORS: dict[str, tuple[str, float, float]] = {
    "iliopsoas": ("front", 13, 201), "rectus_femoris": ("front", 20, 244),
    "tensor_fasciae_latae": ("front", 30.5, 200), "gluteus_maximus": ("back", 17, 215),
    "gluteus_medius": ("back", 28.5, 187), "piriformis": ("back", 19, 199.5),
    "hip_adductors": ("front", 8, 240), "erector_spinae": ("back", 6.5, 152),
    "quadratus_lumborum": ("back", 18.5, 156), "rectus_abdominis": ("front", 6, 160),
    "transversus_abdominis": ("front", 15, 176), "obliques": ("front", 23, 154),
    "hamstrings": ("back", 19, 256), "vastus_medialis": ("front", 10.5, 276),
    "vastus_lateralis": ("front", 30.5, 248), "gastrocnemius_soleus": ("back", 16, 334),
    "tibialis_posterior": ("back", 8.2, 358), "tibialis_anterior": ("front", 19.5, 334),
    "peroneals": ("front", 24.5, 354), "upper_trapezius": ("back", 23, 77.5),
    "middle_trapezius": ("back", 17.5, 95), "lower_trapezius": ("back", 10.5, 122),
    "levator_scapulae": ("back", 13.2, 75), "rhomboids": ("back", 7.8, 108),
    "serratus_anterior": ("front", 28.6, 126), "latissimus_dorsi": ("back", 26, 137),
    "infraspinatus": ("back", 25.5, 106), "pectoralis_major": ("front", 16, 99),
    "pectoralis_minor": ("front", 24, 90.5), "sternocleidomastoid": ("front", 6.4, 65),
    "scalenes": ("front", 10.6, 70.4), "suboccipitals": ("back", 6.4, 55.4),
    "deep_neck_flexors": ("front", 2.6, 62.5), "wrist_extensors": ("back", 50.5, 180),
    "wrist_flexors": ("front", 48.5, 182),
}

# --- decoration ----------------------------------------------------------------------------------------
_DETAILS: dict[str, list[tuple[list[Knot], bool]]] = {  # (knots, mirrored) open lines
    "front": [
        (_k((2.6, 75.2), (14, 76.6), (28, 80.4)), True),  # collarbone
        (_k((3, 110.6), (14, 115.6), (26.5, 108.8)), True),  # lower edge of the pectorals
        (_k((0, 118), (0, 150)), False),  # linea alba
        (_k((2.4, 119.4), (12, 128.6), (22.6, 138.4)), True),  # lower edge of the ribs
        (_k((10.6, 140.6), (10.2, 160), (7.4, 182)), True),  # side of the rectus abdominis
        (_k((28.8, 83.6), (31.6, 92), (33.2, 101.4)), True),  # deltopectoral groove
        (_k((15.8, 322.4), (15.2, 352), (14.2, 384)), True),  # shin bone
        (_k((21.4, 186.4), (12, 199.8), (3.6, 212.6)), True),  # inguinal fold
        (_k((38.2, 156), (44.5, 159.2), (50.8, 156.6)), True),  # elbow crease
        (_k((49.8, 212), (53.6, 214.2), (57.6, 212.4)), True),  # wrist crease
        (_k((14.2, 427.4), (14.2, 435)), True), (_k((19.8, 427.4), (19.8, 435)), True),  # toes
        (_k((9.6, 427), (9.6, 435.2)), True), (_k((23.6, 427.2), (23.6, 433.6)), True),
    ],
    "back": [
        (_k((0, 76), (0, 190)), False),  # spine
        (_k((8.6, 88, "c"), (22.4, 84.6), (27, 89), (25.6, 102), (13.6, 120.6), (9.6, 113), (8.6, 88, "c")), True),
        (_k((10.2, 92.2), (26.4, 87.6)), True),  # spine of the scapula
        (_k((0, 194), (0, 226.4)), False),  # gluteal cleft
        (_k((27.4, 121.6), (23.4, 140), (13.6, 160.6)), True),  # lower edge of the latissimus
        (_k((16, 318.6), (16.4, 332), (15.4, 346)), True),  # between the heads of the calf
        (_k((9.6, 55.4), (11.4, 64), (20, 75.4)), True),  # edge of the trapezius on the neck
        (_k((2.2, 227.6), (15.6, 230.8), (28.2, 225.2)), True),  # gluteal fold
        (_k((8.8, 299.2), (16.2, 301.6), (23.8, 299.2)), True),  # back-of-knee crease
        (_k((43.2, 152.8), (45, 157.4), (47.6, 153.4)), True),  # point of the elbow
    ],
}
_DOTS: dict[str, list[tuple[float, float, float, bool]]] = {  # (dx, y, r, mirrored)
    "front": [(0, 160, 1.6, False), ],  # navel
    "back": [(6.2, 176, 1.4, True)],  # the dimples over the sacroiliac joints
}
_KNEECAP = _ellipse(*_PATELLA, 5.3, 8.2)


def _dot(x: float, y: float, r: float) -> str:
    k = r * 0.5523
    return (f"M{_num(x)} {_num(y - r)}C{_num(x + k)} {_num(y - r)} {_num(x + r)} {_num(y - k)} {_num(x + r)} {_num(y)}"
            f"C{_num(x + r)} {_num(y + k)} {_num(x + k)} {_num(y + r)} {_num(x)} {_num(y + r)}"
            f"C{_num(x - k)} {_num(y + r)} {_num(x - r)} {_num(y + k)} {_num(x - r)} {_num(y)}"
            f"C{_num(x - r)} {_num(y - k)} {_num(x - k)} {_num(y - r)} {_num(x)} {_num(y - r)}Z")


def _details(view: str) -> list[str]:
    out = []
    for knots, mirrored in _DETAILS[view]:
        closed = knots[0][:2] == knots[-1][:2]
        line = knots[:-1] if closed else knots
        out.append(_path(line, -1, closed))
        if mirrored:
            out.append(_path(line, 1, closed))
    for dx, y, r, mirrored in _DOTS[view]:
        out.append(_dot(MIDLINE - dx, y, r))
        if mirrored:
            out.append(_dot(MIDLINE + dx, y, r))
    if view == "front":
        out += [_path(_KNEECAP, -1), _path(_KNEECAP, 1)]
    return out


def _sign(view: str, side: str | None) -> int:
    """-1 puts a point on the viewer's left: the person's right on the front view, their left on the back."""
    if side is None:
        return -1
    return -1 if (side == "right") == (view == "front") else 1


# --- the atlas -----------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def zone_geometry() -> dict[str, Any]:
    """The geometry alone (no KB): outlines, details, zones with centroids, muscle anchors and side labels."""
    views: dict[str, Any] = {}
    for view in VIEWS:
        zones = []
        for zview, site, sided, knots in ZONES:
            if zview != view:
                continue
            for side in (("right", "left") if sided else (None,)):
                d = _path(knots, _sign(view, side))
                cx, cy = _centroid(flatten(d)[0])
                zones.append({"site": site, "side": side, "d": d, "cx": round(cx, 1), "cy": round(cy, 1)})
        left, right = ("R", "L") if view == "front" else ("L", "R")
        views[view] = {"width": VIEW_WIDTH, "height": VIEW_HEIGHT, "outline": [_path(_loop(), -1)],
                       "details": _details(view), "zones": zones,
                       "side_labels": [{"x": 14, "y": 22, "text": left}, {"x": VIEW_WIDTH - 14, "y": 22, "text": right}]}
    muscles: dict[str, list[dict]] = {}
    for muscle, (view, dx, y) in MUSCLE_ANCHORS.items():
        muscles[muscle] = [{"view": view, "side": side, "x": round(_to_x(dx, _sign(view, side)), 1), "y": y}
                           for side in ("right", "left")]
    pain: dict[str, list[dict]] = {}
    for view in VIEWS:
        for zone in views[view]["zones"]:
            pain.setdefault(zone["site"], []).append({"view": view, "side": zone["side"], "x": zone["cx"],
                                                      "y": zone["cy"]})
    return {"views": views, "anchors": {"muscle": muscles, "pain": pain}}


_CACHE: dict[int, tuple[object, dict]] = {}


def atlas(kb=None) -> dict:
    """The body atlas as JSON-ready data, labelled from ``kb`` (the bundled KB by default); cached.

    ``{"views": {"front"|"back": {width, height, outline: [d], details: [d], zones: [{site, side, d, cx,
    cy, label}], side_labels: [{x, y, text}]}}, "anchors": {"muscle": {id: [{view, side, x, y}]},
    "pain": {id: [...]}}, "unplaced": {"pain": [id], "muscle": [id]}}`` — ``unplaced`` lists KB ids the
    atlas has no place for (empty for the bundled KB; a test keeps it so). Zones and anchors of ids the
    KB does not define are left out. ``side`` is the person's (``null``: a midline zone).
    """
    if kb is None:
        from compensa.kb import load_kb

        kb = load_kb()
    hit = _CACHE.get(id(kb))
    if hit is not None and hit[0] is kb:
        return hit[1]
    geometry = zone_geometry()
    views = {}
    for view, data in geometry["views"].items():
        zones = [{**z, "label": kb.pain_sites[z["site"]].label} for z in data["zones"] if z["site"] in kb.pain_sites]
        views[view] = {**data, "zones": zones}
    anchors = {"muscle": {m: a for m, a in geometry["anchors"]["muscle"].items() if m in kb.muscles},
               "pain": {p: a for p, a in geometry["anchors"]["pain"].items() if p in kb.pain_sites}}
    result = {"views": views, "anchors": anchors,
              "unplaced": {"pain": sorted(set(kb.pain_sites) - set(anchors["pain"])),
                           "muscle": sorted(set(kb.muscles) - set(anchors["muscle"]))}}
    _CACHE.clear()  # one KB at a time is plenty (a service serves one)
    _CACHE[id(kb)] = (kb, result)
    return result
