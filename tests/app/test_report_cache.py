"""The optional whole-report cache of the service (COMPENSA_REPORT_CACHE): off by default; when on, a
case sent again gets the very bytes it got before, a bad body is still refused, a red flag is never
answered from another case's report, every hit is audited and the oldest reports go first."""

from __future__ import annotations

import datetime
import json

import pytest
from fastapi.testclient import TestClient

from compensa.app.http import create_app
from compensa.app.report_cache import ReportCache
from compensa.app.settings import load_settings

JSON = {"content-type": "application/json"}
CASE = {"pain": [{"site": "lateral_knee", "side": "right"}], "tests": [{"id": "ober_test", "result": "positive",
                                                                        "side": "right"}]}
FLAGGED = {**CASE, "red_flags": [{"id": "saddle_anaesthesia", "present": True}]}


def fastapi_of(app):
    while not hasattr(app, "state"):
        app = app.app
    return app


def cached_app(size: int, **settings):
    return create_app(settings=load_settings(report_cache=size, **settings))


def post(client, body) -> tuple[int, bytes]:
    answer = client.post("/v1/consult", content=body if isinstance(body, bytes) else json.dumps(body), headers=JSON)
    return answer.status_code, answer.content


def test_off_by_default():
    app = create_app()
    assert fastapi_of(app).state.report_cache is None
    assert load_settings().report_cache == 0


def test_a_case_sent_again_gets_the_same_bytes_without_consulting_again(monkeypatch):
    app = cached_app(8)
    consultant, cache = fastapi_of(app).state.consultant, fastapi_of(app).state.report_cache
    with TestClient(app) as client:
        first = post(client, CASE)
        calls = []
        real = consultant.consult
        monkeypatch.setattr(consultant, "consult", lambda *a, **k: calls.append(1) or real(*a, **k))
        again = post(client, json.dumps(CASE, indent=4).encode())  # other spacing: the same JSON value
        assert first == again and first[0] == 200 and calls == []
        assert (cache.hits, cache.misses) == (1, 1)
        uncached = TestClient(create_app())
        assert post(uncached, CASE) == first  # the cache never changes an answer


def test_a_red_flag_is_never_answered_from_another_cases_report():
    with TestClient(cached_app(8)) as client:
        plain = json.loads(post(client, CASE)[1])
        flagged = json.loads(post(client, FLAGGED)[1])
        assert plain["plan_withheld"] is False and flagged["plan_withheld"] is True
        assert flagged["triage"]["red_flags"] and not plain["triage"]["red_flags"]
        assert json.loads(post(client, FLAGGED)[1])["plan_withheld"] is True


@pytest.mark.parametrize("body, status", [
    (b'{"pain": [{"site": "lateral_knee"}], "pain": []}', 422),  # a repeated key could hide a red flag
    (b'{"pain": [{"site": "lateral_knee"}]', 422),
    (b'{"pain": [{"site": "no_such_site"}], "strict": true}', 422),
])
def test_a_bad_body_is_refused_as_without_the_cache(body, status):
    with TestClient(cached_app(8)) as cached, TestClient(create_app()) as plain:
        for _ in range(2):
            got, want = post(cached, body), post(plain, body)
            assert got[0] == want[0] == status
            assert json.loads(got[1])["detail"] == json.loads(want[1])["detail"]


def test_the_media_type_is_checked_on_every_request():
    with TestClient(cached_app(8)) as client:
        assert post(client, CASE)[0] == 200
        answer = client.post("/v1/consult", content=json.dumps(CASE), headers={"content-type": "text/plain"})
        assert answer.status_code == 415


def test_every_hit_is_audited_with_its_own_request_id(tmp_path):
    log = tmp_path / "audit.jsonl"
    with TestClient(cached_app(8, audit=log)) as client:
        for _ in range(3):
            assert post(client, CASE)[0] == 200
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 3 and len({line["request_id"] for line in lines}) == 3
    same = [{k: v for k, v in line.items() if k not in ("time", "request_id")} for line in lines]
    assert same[0] == same[1] == same[2] and same[0]["targets"]


def test_the_least_recently_used_report_goes_first():
    cache = ReportCache(2, "kb 1")
    a, b, c = (cache.key({"n": n}) for n in range(3))
    cache.put(a, b"A")
    cache.put(b, b"B")
    assert cache.get(a) == b"A"  # a is now the most recent
    cache.put(c, b"C")
    assert cache.get(b) is None and cache.get(a) == b"A" and cache.get(c) == b"C" and len(cache) == 2


def test_the_key_holds_the_kb_version_the_date_and_the_value_in_its_own_order():
    cache, day = ReportCache(4, "kb 1"), datetime.date(2026, 1, 1)
    key = cache.key({"a": 1, "b": [1, 2]}, day)
    assert key == cache.key({"a": 1, "b": [1, 2]}, day)
    assert key != ReportCache(4, "kb 2").key({"a": 1, "b": [1, 2]}, day)
    assert key != cache.key({"a": 1, "b": [1, 2]}, day + datetime.timedelta(days=1))  # ages from birth dates
    assert key != cache.key({"b": [1, 2], "a": 1}, day)
    assert key != cache.key({"a": 1.0, "b": [1, 2]}, day) and key != cache.key({"a": True, "b": [1, 2]}, day)
    assert key != cache.key({"a": 1, "b": [2, 1]}, day)
    with pytest.raises(ValueError):
        ReportCache(0, "kb 1")


def test_the_setting_is_checked():
    from compensa.errors import UsageError

    with pytest.raises(UsageError, match="report-cache|REPORT_CACHE"):
        load_settings(report_cache=-1)
