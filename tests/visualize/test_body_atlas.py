"""The body atlas: every KB pain site has a zone (both sides when sided), sides are right per view,
zones are big enough to touch and do not overlap, every muscle has an anchor, paths are plain path
data; and the handout's picture drawn from it escapes labels and draws chain lines."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from compensa.engine import consult
from compensa.kb import load_kb
from compensa.visualize import body_atlas, body_figure
from compensa.visualize.body_atlas import MIDLINE, atlas, flatten

SVG = "{http://www.w3.org/2000/svg}"
#: the smallest a zone may be across and down, in viewBox units (~8 px at the page's 200 px width)
MIN_ZONE = 8.0
#: midline sites drawn once per view (no side)
MIDLINE_SITES = {"head", "jaw", "neck", "chest", "upper_back", "lower_back", "sacroiliac"}
PATH_DATA = re.compile(r"^(?:[MLCQZ]|-?\d+(?:\.\d+)?|[ ,])+$")


@pytest.fixture(scope="module")
def kb():
    return load_kb()


@pytest.fixture(scope="module")
def data(kb):
    return atlas(kb)


def _zones(data, view=None):
    return [(v, z) for v, d in data["views"].items() if view in (None, v) for z in d["zones"]]


def _zone(data, view, site, side):
    found = [z for v, z in _zones(data, view) if z["site"] == site and z["side"] == side]
    assert len(found) == 1, (view, site, side, len(found))
    return found[0]


def _poly(d):
    subpaths = flatten(d)
    assert len(subpaths) == 1
    return subpaths[0]


def _bbox(d):
    pts = _poly(d)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


def _inside(point, poly):
    x, y = point
    inside = False
    for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1]):
        if (y0 > y) != (y1 > y) and x < x0 + (x1 - x0) * (y - y0) / (y1 - y0):
            inside = not inside
    return inside


def _distance(point, poly):
    """How far a point is from a closed polyline."""
    x, y = point
    best = float("inf")
    for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1]):
        dx, dy = x1 - x0, y1 - y0
        t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)))
        best = min(best, ((x - x0 - t * dx) ** 2 + (y - y0 - t * dy) ** 2) ** 0.5)
    return best


# --- coverage ------------------------------------------------------------------------------------

def test_every_kb_pain_site_has_a_zone(kb, data):
    zoned = {z["site"] for _, z in _zones(data)}
    missing = sorted(set(kb.pain_sites) - zoned)
    assert not missing, f"pain sites of the KB with no zone in the body atlas: {missing}"
    assert data["unplaced"] == {"pain": [], "muscle": []}
    assert zoned <= set(kb.pain_sites), sorted(zoned - set(kb.pain_sites))


def test_sided_sites_have_both_sides_and_midline_sites_one_zone(kb, data):
    for site in kb.pain_sites:
        for view in ("front", "back"):
            sides = sorted(str(z["side"]) for _, z in _zones(data, view) if z["site"] == site)
            if not sides:
                continue
            expected = ["None"] if site in MIDLINE_SITES else ["left", "right"]
            assert sides == expected, (site, view, sides)


def test_zones_carry_the_kb_labels_and_centroids(kb, data):
    for _, zone in _zones(data):
        assert zone["label"] == kb.pain_sites[zone["site"]].label
        assert _inside((zone["cx"], zone["cy"]), _poly(zone["d"])), (zone["site"], zone["side"])


def test_every_kb_muscle_has_an_anchor_on_each_side(kb, data):
    muscles = data["anchors"]["muscle"]
    missing = sorted(set(kb.muscles) - set(muscles))
    assert not missing, f"muscles of the KB with no anchor in the body atlas: {missing}"
    for muscle, anchors in muscles.items():
        assert sorted(a["side"] for a in anchors) == ["left", "right"], muscle
        for a in anchors:
            assert a["view"] in ("front", "back") and 0 < a["x"] < 200 and 0 < a["y"] < 440
            outline = _poly(data["views"][a["view"]]["outline"][0])
            assert _inside((a["x"], a["y"]), outline), f"{muscle} ({a['side']}) is outside the body"


def test_pain_anchors_are_the_zone_centroids(data):
    for site, anchors in data["anchors"]["pain"].items():
        for a in anchors:
            zone = _zone(data, a["view"], site, a["side"])
            assert (a["x"], a["y"]) == (zone["cx"], zone["cy"])


@pytest.mark.parametrize("muscle, view", [
    ("gluteus_medius", "back"), ("iliopsoas", "front"), ("tensor_fasciae_latae", "front"), ("hamstrings", "back"),
    ("upper_trapezius", "back"), ("pectoralis_minor", "front"), ("deep_neck_flexors", "front"),
    ("tibialis_posterior", "back"), ("gastrocnemius_soleus", "back"), ("rectus_femoris", "front"),
])
def test_muscles_sit_where_a_clinician_expects(data, muscle, view):
    assert {a["view"] for a in data["anchors"]["muscle"][muscle]} == {view}


def test_anchors_sit_in_the_right_part_of_the_body(data):
    def y(muscle):
        return data["anchors"]["muscle"][muscle][0]["y"]

    assert y("upper_trapezius") < y("middle_trapezius") < y("lower_trapezius")
    assert y("gluteus_medius") < y("hamstrings") < y("gastrocnemius_soleus")
    hamstrings = data["anchors"]["muscle"]["hamstrings"][0]
    thigh = _zone(data, "back", "posterior_thigh", hamstrings["side"])
    assert _inside((hamstrings["x"], hamstrings["y"]), _poly(thigh["d"]))
    tfl = data["anchors"]["muscle"]["tensor_fasciae_latae"][0]
    psoas = next(a for a in data["anchors"]["muscle"]["iliopsoas"] if a["side"] == tfl["side"])
    assert abs(tfl["x"] - MIDLINE) > abs(psoas["x"] - MIDLINE)  # TFL lateral to the hip flexor


# --- sides ---------------------------------------------------------------------------------------

def test_front_view_puts_the_persons_right_on_the_viewers_left(data):
    for site in ("lateral_knee", "shoulder", "groin", "anterior_thigh", "lateral_ankle"):
        assert _zone(data, "front", site, "right")["cx"] < MIDLINE < _zone(data, "front", site, "left")["cx"], site
    for muscle in ("tensor_fasciae_latae", "iliopsoas"):
        anchors = {a["side"]: a["x"] for a in data["anchors"]["muscle"][muscle]}
        assert anchors["right"] < MIDLINE < anchors["left"], muscle


def test_back_view_puts_the_persons_right_on_the_viewers_right(data):
    for site in ("buttock", "calf", "shoulder", "posterior_thigh", "heel"):
        assert _zone(data, "back", site, "left")["cx"] < MIDLINE < _zone(data, "back", site, "right")["cx"], site
    anchors = {a["side"]: a["x"] for a in data["anchors"]["muscle"]["gluteus_medius"]}
    assert anchors["left"] < MIDLINE < anchors["right"]


def test_lateral_and_medial_zones_are_outer_and_inner(data):
    for outer, inner in (("lateral_knee", "medial_knee"), ("lateral_ankle", "medial_ankle"),
                         ("lateral_elbow", "medial_elbow"), ("lateral_thigh", "medial_thigh")):
        for side in ("right", "left"):
            assert abs(_zone(data, "front", outer, side)["cx"] - MIDLINE) > \
                abs(_zone(data, "front", inner, side)["cx"] - MIDLINE), (outer, side)


def test_side_labels_read_r_l_on_the_front_and_l_r_on_the_back(data):
    for view, expected in (("front", ["R", "L"]), ("back", ["L", "R"])):
        labels = sorted(data["views"][view]["side_labels"], key=lambda s: s["x"])
        assert [s["text"] for s in labels] == expected


def test_midline_zones_are_centred(data):
    for view, zone in _zones(data):
        if zone["side"] is None:
            assert abs(zone["cx"] - MIDLINE) < 0.5, (view, zone["site"])


# --- geometry ------------------------------------------------------------------------------------

def test_zones_are_big_enough_to_touch(data):
    small = []
    for view, zone in _zones(data):
        x0, y0, x1, y1 = _bbox(zone["d"])
        if min(x1 - x0, y1 - y0) < MIN_ZONE:
            small.append(f"{view} {zone['site']} {zone['side']}: {x1 - x0:.1f} x {y1 - y0:.1f}")
    assert not small, small


def test_zones_do_not_cover_one_another(data):
    for view in ("front", "back"):
        zones = [z for _, z in _zones(data, view)]
        polys = [_poly(z["d"]) for z in zones]
        for zone in zones:
            covering = [other["site"] for other, poly in zip(zones, polys)
                        if other is not zone and _inside((zone["cx"], zone["cy"]), poly)]
            assert not covering, (view, zone["site"], zone["side"], covering)


def test_zones_lie_on_the_body(data):
    for view in ("front", "back"):
        outline = _poly(data["views"][view]["outline"][0])
        for zone in data["views"][view]["zones"]:
            outside = [p for p in _poly(zone["d"]) if not _inside(p, outline)]
            worst = max((_distance(p, outline) for p in outside), default=0.0)
            assert worst < 2.5, (view, zone["site"], zone["side"], worst)  # a malleolus or an epicondyle may bulge


def test_paths_are_plain_path_data(data):
    views = data["views"].values()
    paths = [d for v in views for d in v["outline"] + v["details"]] + [z["d"] for v in views for z in v["zones"]]
    assert paths
    for d in paths:
        assert PATH_DATA.match(d), d[:80]
        assert d.startswith("M")


def test_the_outline_is_symmetric_and_proportioned(data):
    pts = _poly(data["views"]["front"]["outline"][0])
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    assert abs((min(xs) + max(xs)) / 2 - MIDLINE) < 0.5
    assert 0 < min(ys) < 12 and 425 < max(ys) < 440  # head at the top, feet at the bottom
    height, width = max(ys) - min(ys), max(xs) - min(xs)
    assert 2.8 < height / width < 3.8  # a standing figure, arms by the sides


def test_atlas_is_json_and_cached(kb, data):
    assert atlas(kb) is data
    text = json.dumps(data)
    assert json.loads(text) == data
    assert len(text) < 120_000
    for view in ("front", "back"):
        assert data["views"][view]["width"] == 200 and data["views"][view]["height"] == 440


def test_shift_path_moves_only_x():
    d = "M1 2C3 4 5 6 7 8Z"
    assert body_atlas.shift_path(d, 10) == "M11 2C13 4 15 6 17 8Z"


# --- the handout's picture -----------------------------------------------------------------------

def _svg(text):
    return ET.fromstring(text)


def test_body_svg_escapes_labels_and_has_no_script_or_external_reference():
    hostile = '<script>alert(1)</script>" onload="x'
    marks = [body_figure.Mark("pain", "knee", "right", "lateral_knee", hostile),
             body_figure.Mark("stretch", "hip", None, "tensor_fasciae_latae", hostile)]
    svg = body_figure.body_svg(marks, hostile)
    root = _svg(svg)  # well-formed
    assert "<script" not in svg and "onload=" not in svg.replace("&quot; onload=&quot;", "")
    assert not [e for e in root.iter() if e.tag in (f"{SVG}script", f"{SVG}image", f"{SVG}foreignObject", f"{SVG}use")]
    assert "href" not in svg and "url(" not in svg
    titles = [e.text for e in root.iter(f"{SVG}title")]
    assert any(t and hostile in t for t in titles)  # the text survives, as text


def test_body_svg_fills_the_pain_zone_and_dots_the_muscles():
    marks = [body_figure.Mark("pain", "knee", "right", "lateral_knee", "Outside of the knee"),
             body_figure.Mark("strengthen", "hip", "right", "gluteus_medius", "Gluteus medius"),
             body_figure.Mark("stretch", "hip", "right", "tensor_fasciae_latae", "TFL")]
    root = _svg(body_figure.body_svg(marks))
    pain = [e for e in root.iter(f"{SVG}path") if e.get("data-kind") == "pain"]
    assert len(pain) == 1 and pain[0].get("fill") == body_figure.COLOURS["pain"][0]
    assert float(pain[0].get("data-cx")) < body_figure._FRONT_X
    dots = {e.get("data-item"): e for e in root.iter(f"{SVG}ellipse")}
    assert dots["gluteus_medius"].get("fill") == body_figure.COLOURS["strengthen"][0]
    assert dots["gluteus_medius"].get("data-view") == "back" and float(dots["gluteus_medius"].get("cx")) > body_figure._BACK_X
    assert dots["tensor_fasciae_latae"].get("fill") == body_figure.COLOURS["stretch"][0]


def test_chain_lines_join_a_target_to_its_pain_on_the_same_view():
    marks = [body_figure.Mark("pain", "knee", "right", "lateral_knee", "Outside of the knee"),
             body_figure.Mark("stretch", "hip", "right", "tensor_fasciae_latae", "TFL"),
             body_figure.Mark("strengthen", "hip", "right", "gluteus_medius", "Gluteus medius")]
    chains = [("tensor_fasciae_latae", "right", "lateral_knee", "right"),
              ("gluteus_medius", "right", "lateral_knee", "right")]  # glute med is on the back, the knee on the front
    root = _svg(body_figure.body_svg(marks, chains=chains))
    lines = [e for e in root.iter(f"{SVG}line") if e.get("class") == "chain"]
    assert len(lines) == 1
    line = lines[0]
    assert (line.get("data-from"), line.get("data-to"), line.get("data-view")) == \
        ("tensor_fasciae_latae", "lateral_knee", "front")
    tfl = next(a for a in atlas()["anchors"]["muscle"]["tensor_fasciae_latae"] if a["side"] == "right")
    knee = _zone(atlas(), "front", "lateral_knee", "right")
    assert (float(line.get("x1")), float(line.get("y1"))) == (tfl["x"], tfl["y"])
    assert (float(line.get("x2")), float(line.get("y2"))) == (knee["cx"], knee["cy"])
    assert line.get("stroke-dasharray")
    assert body_figure.body_svg(marks).count('class="chain"') == 0  # no chains asked, none drawn


def test_body_chains_of_a_report_end_at_its_pain_sites():
    report = consult({"pain": [{"site": "lateral_knee", "side": "right"}],
                      "tests": [{"id": "ober_test", "result": "positive", "side": "right"}]})
    chains = body_figure.body_chains(report)
    assert chains
    assert all(site in report.kb.pain_sites and muscle in report.kb.muscles for muscle, _, site, _ in chains)
    assert {site for _, _, site, _ in chains} <= {"lateral_knee"}


def test_a_kb_site_or_muscle_without_a_place_is_reported_by_name(kb):
    from types import SimpleNamespace

    site = SimpleNamespace(id="left_little_toe", label="Little toe", region="foot")
    extended = SimpleNamespace(pain_sites={**kb.pain_sites, "left_little_toe": site},
                               muscles={**kb.muscles, "plantaris": object()})
    data = atlas(extended)
    assert data["unplaced"] == {"pain": ["left_little_toe"], "muscle": ["plantaris"]}
    zoned = {z["site"] for _, z in _zones(data)}
    assert sorted(set(extended.pain_sites) - zoned) == ["left_little_toe"]
    assert atlas(kb)["unplaced"] == {"pain": [], "muscle": []}  # the bundled KB again
