"""No accepted input path can turn a present (or unsure) red flag into an exercise plan.

Issue 9: a body repeating ``red_flags`` was refused only for the exact Content-Type
``application/json``; any other JSON spelling let the last ``red_flags`` win and a present saddle
anaesthesia came back as routine with 8 targets. The HTTP schema also read ``"n"``, ``0``, ``"off"``
as false. These tests state the invariant over the library, the command line and HTTP.
"""

from __future__ import annotations

import json

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compensa.app.cli import main
from compensa.app.http import create_app
from compensa.engine import consult, load_kb
from compensa.errors import CaseError

KB = load_kb()
ALARMS = sorted(f.id for f in KB.red_flags.values() if f.level in ("emergency", "urgent"))
JSON_TYPES = ["application/json", "Application/JSON", "application/json; charset=utf-8",
              "APPLICATION/JSON; CHARSET=UTF-8", "application/merge-patch+json", "application/vnd.case+json",
              "application/problem+json", "application/json;charset=\"UTF-8\""]
OTHER_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
               "application/xml", "text/json", "application/jsonx", "application/json; charset=latin-1", None]
ENDPOINTS = ["/v1/consult", "/v1/triage", "/v1/explain"]
#: A knee case that gives a firm plan when no red flag is present.
KNEE = ('"pain": ["lateral_knee:right"], "tests": ["ober_test:positive:right", "trendelenburg:positive:right"], '
        '"findings": [{"id": "knee_valgus", "side": "right"}]')
DUPLICATED = [
    "{" + KNEE + ', "red_flags": [{"id": "saddle_anaesthesia", "present": true}], "red_flags": []}',
    "{" + KNEE + ', "red_flags": [{"id": "saddle_anaesthesia", "present": true, "present": false}]}',
    "{" + KNEE + ', "red_flags": [{"id": "saddle_anaesthesia", "id": "fever", "present": true}]}',
    '{"red_flags": [], ' + KNEE + ', "red_flags": [{"id": "saddle_anaesthesia", "present": true}]}',
]


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def test_the_knee_case_has_a_plan_without_red_flags():
    assert consult(json.loads("{" + KNEE + "}")).targets


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("content_type", JSON_TYPES)
@pytest.mark.parametrize("body", DUPLICATED, ids=["section", "present", "id", "reversed"])
def test_a_repeated_key_is_refused_whatever_the_json_media_type(client, endpoint, content_type, body):
    response = client.post(endpoint, content=body.encode(), headers={"content-type": content_type})
    assert response.status_code == 422, response.text
    assert "appears twice" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("content_type", OTHER_TYPES)
def test_a_body_not_declared_as_json_is_415_never_a_guess(client, endpoint, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(endpoint, content=DUPLICATED[0].encode(), headers=headers)
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("content_type", JSON_TYPES)
def test_every_json_media_type_is_accepted_and_keeps_the_red_flag(client, content_type):
    body = "{" + KNEE + ', "red_flags": [{"id": "saddle_anaesthesia", "present": true}]}'
    response = client.post("/v1/consult", content=body.encode(), headers={"content-type": content_type})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["triage"]["level"] == "emergency" and report["targets"] == [] and report["plan_withheld"]


@pytest.mark.parametrize("text", [
    "pain: [lateral_knee]\nred_flags:\n  - {id: saddle_anaesthesia, present: true}\nred_flags: []\n",
    "pain: [lateral_knee]\nred_flags:\n  - id: saddle_anaesthesia\n    present: true\n    present: false\n",
])
def test_a_repeated_key_in_a_case_file_is_refused(tmp_path, capsys, text):
    path = tmp_path / "case.yaml"
    path.write_text(text)
    assert main(["consult", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "duplicate key" in err


@pytest.mark.parametrize("answer", ["n", "no", "off", "0", "false", "absent", "None"])
def test_no_spelling_of_no_but_false_reads_as_false(client, answer):
    case = {"pain": ["lower_back"], "red_flags": [{"id": "saddle_anaesthesia", "present": answer}]}
    with pytest.raises(CaseError):
        consult(case)
    assert client.post("/v1/triage", json=case).status_code == 422


@pytest.mark.parametrize("answer", [0, 1, 0.0, [], {}, None])
def test_numbers_and_containers_are_not_booleans(client, answer):
    case = {"pain": ["lower_back"], "red_flags": [{"id": "saddle_anaesthesia", "present": answer}]}
    with pytest.raises(CaseError):
        consult(case)
    assert client.post("/v1/consult", json=case).status_code == 422


# --- the invariant, over generated cases and every input path -------------------------------------

def _names(flag_id: str) -> list[str]:
    flag = KB.red_flags[flag_id]
    return [flag_id, flag.label, *flag.aliases]


@st.composite
def alarming_cases(draw):
    """A case that would otherwise get a plan, with one present or unsure urgent/emergency red flag."""
    flag = draw(st.sampled_from(ALARMS))
    answer = draw(st.sampled_from([True, "unsure"]))
    name = draw(st.sampled_from(_names(flag)))
    others = draw(st.lists(st.sampled_from([f for f in ALARMS if f != flag]), max_size=4, unique=True))
    flags = [{"id": o, "present": False} for o in others]
    flags.insert(draw(st.integers(0, len(flags))), {"id": name, "present": answer})
    case = json.loads("{" + KNEE + "}")
    case["red_flags"] = flags
    if draw(st.booleans()):
        case["history"] = ["runner"]
    keys = draw(st.permutations(sorted(case)))
    return {k: case[k] for k in keys}


def _assert_withheld(report: dict) -> None:
    assert report["triage"]["level"] in ("emergency", "urgent"), report["triage"]
    assert report["targets"] == [] and report["plan_withheld"] is True


def _cli(capsys, args: list[str]) -> dict:
    capsys.readouterr()
    code = main([*args, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=alarming_cases(), content_type=st.sampled_from(JSON_TYPES))
def test_no_accepted_path_turns_a_red_flag_into_a_plan(client, tmp_path, capsys, case, content_type):
    _assert_withheld(consult(case).to_dict())
    body = json.dumps(case).encode()
    response = client.post("/v1/consult", content=body, headers={"content-type": content_type})
    assert response.status_code == 200, response.text
    _assert_withheld(response.json())
    triage = client.post("/v1/triage", content=body, headers={"content-type": content_type})
    assert triage.status_code == 200 and triage.json()["level"] in ("emergency", "urgent")
    for suffix, text in ((".json", json.dumps(case)), (".yaml", yaml.safe_dump(case, sort_keys=False))):
        path = tmp_path / f"case{suffix}"
        path.write_text(text, encoding="utf-8")
        _assert_withheld(_cli(capsys, ["consult", str(path)]))
    alarm = next(f for f in case["red_flags"] if f["present"] is not False)
    option = "--red-flag" if alarm["present"] is True else "--unsure-red-flag"
    flags = ["--pain", "lateral_knee:right", "--test", "ober_test:positive:right", "--test",
             "trendelenburg:positive:right", option, alarm["id"]]
    _assert_withheld(_cli(capsys, ["consult", *flags]))


# --- red-flag clusters (KB criteria with an alarm): the same invariant --------------------------

CLUSTERS = sorted(c.id for c in KB.criteria.values() if c.alarm)


def _meeting(criterion) -> dict:
    """The smallest additions to a case that meet ``criterion`` (all_of, then the first `need` of `of`)."""
    case: dict = {"red_flags": [], "tests": [], "findings": [], "history": [], "pain": []}
    for member in (*criterion.required, *criterion.members[:criterion.need]):
        if member.kind == "age":
            case["age"] = member.at_least if member.at_least >= 0 else member.below - 1
        elif member.kind == "sex":
            case["sex"] = member.id
        elif member.kind == "red_flag":
            case["red_flags"].append({"id": member.id, "present": True})
        elif member.kind == "test":
            case["tests"].append({"id": member.id, "result": member.values[0], "side": "right"})
        elif member.kind == "finding":
            case["findings"].append({"id": member.id, "present": member.values[0] == "present", "side": "right"})
        elif member.kind == "pain":
            case["pain"].append({"site": member.id, "side": "right"})
        else:
            case[{"history": "history", "diagnosis": "diagnoses"}[member.kind]] = [member.id]
    return {k: v for k, v in case.items() if v != []}


def test_the_bundled_kb_has_red_flag_clusters():
    assert "mscc_suspected" in CLUSTERS


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_a_red_flag_cluster_withholds_the_plan_on_every_path(client, tmp_path, capsys, cluster):
    criterion = KB.criteria[cluster]
    case = json.loads("{" + KNEE + "}")
    for key, value in _meeting(criterion).items():
        case[key] = (case.get(key, []) + value) if isinstance(value, list) else value
    level = criterion.alarm
    report = consult(case).to_dict()
    _assert_withheld(report)
    assert cluster in report["triage"]["clusters"] and report["triage"]["level"] == level
    for endpoint in ("/v1/consult", "/v1/triage"):
        body = client.post(endpoint, json=case).json()
        triage = body if endpoint == "/v1/triage" else body["triage"]
        assert triage["level"] == level and cluster in triage["clusters"]
        if endpoint == "/v1/consult":
            _assert_withheld(body)
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(case), encoding="utf-8")
    _assert_withheld(_cli(capsys, ["consult", str(path)]))
