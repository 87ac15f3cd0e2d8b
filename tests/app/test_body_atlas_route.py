"""``GET /v1/body-atlas``: the atlas JSON the web page draws its body map from, cacheable."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from compensa.app.http import create_app
from compensa.kb import load_kb


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def test_body_atlas_is_json_with_a_cache_header(client):
    response = client.get("/v1/body-atlas")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "public, max-age=3600"


def test_body_atlas_shape(client):
    data = client.get("/v1/body-atlas").json()
    assert set(data) >= {"views", "anchors"}
    assert set(data["views"]) == {"front", "back"}
    for view in data["views"].values():
        assert view["width"] == 200 and view["height"] == 440
        assert view["outline"] and all(isinstance(d, str) and d.startswith("M") for d in view["outline"])
        assert isinstance(view["details"], list)
        assert {s["text"] for s in view["side_labels"]} == {"R", "L"}
        for zone in view["zones"]:
            assert set(zone) >= {"site", "side", "d", "cx", "cy", "label"}
            assert zone["side"] in ("left", "right", None)
    assert set(data["anchors"]) == {"muscle", "pain"}
    kb = load_kb()
    assert set(data["anchors"]["muscle"]) == set(kb.muscles)
    assert set(data["anchors"]["pain"]) == set(kb.pain_sites)
    zoned = {z["site"] for view in data["views"].values() for z in view["zones"]}
    assert zoned == set(kb.pain_sites)
    lateral_knee = next(z for z in data["views"]["front"]["zones"] if z["site"] == "lateral_knee")
    assert lateral_knee["label"] == kb.pain_sites["lateral_knee"].label


def test_body_atlas_is_in_the_openapi_document(client):
    assert "/v1/body-atlas" in client.get("/openapi.json").json()["paths"]
