"""The intake as a FHIR R4 Questionnaire and QuestionnaireResponses through ``POST /v1/consult`` (issue 17)."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from compensa.app.fhir_case import ANSWER_SYSTEM, KB_SYSTEM, validate_resource
from compensa.app.fhir_questionnaire import (
    QUESTIONNAIRE_URL, case_from_body_if_fhir, case_from_questionnaire_response, intake_questionnaire,
    questionnaire_response_from_case,
)
from compensa.engine import load_kb
from compensa.engine.consult import consultant_for
from compensa.errors import CaseError

CASE = {"pain": [{"site": "lateral_knee", "side": "right"}], "findings": [{"id": "knee_valgus", "side": "right"}],
        "tests": [{"id": "ober_test", "result": "positive", "side": "right"},
                  {"id": "trendelenburg", "result": "positive", "side": "right"}],
        "red_flags": [{"id": "saddle_anaesthesia", "present": False}, {"id": "fever", "present": False}],
        "age": 38, "sex": "female"}
SECTIONS = ("pain", "findings", "tests", "red_flags", "age", "sex")


@pytest.fixture(scope="module")
def kb():
    return load_kb()


@pytest.fixture(scope="module")
def client():
    from compensa.app.http import create_app

    return TestClient(create_app())


def canonical(kb, case: dict) -> dict:
    return consultant_for(kb).parse(case).to_dict()


def link_ids(items: list[dict]) -> list[str]:
    out = []
    for item in items:
        out.append(item["linkId"])
        out += link_ids(item.get("item", []))
    return out


def test_the_questionnaire_validates_with_fhir_r4b(kb):
    questionnaire = intake_questionnaire(kb)
    assert validate_resource(questionnaire) is None
    from fhir.resources.R4B.questionnaire import Questionnaire

    model = Questionnaire.model_validate(questionnaire)
    assert model.id == "compensa-intake" and model.url == QUESTIONNAIRE_URL and model.status == "active"


def test_groups_items_and_link_ids_come_from_the_kb(kb):
    questionnaire = intake_questionnaire(kb)
    groups = {g["linkId"]: g["item"] for g in questionnaire["item"]}
    assert list(groups) == ["red_flags", "pain", "findings", "tests", "about"]
    ids = link_ids(questionnaire["item"])
    assert len(ids) == len(set(ids))  # linkIds are unique
    levels = {g["linkId"]: g["item"] for g in groups["red_flags"]}
    assert list(levels) == ["red_flags_emergency", "red_flags_urgent", "red_flags_review"]  # emergencies first
    flags = [i for items in levels.values() for i in items]
    assert {i["linkId"] for i in flags} == set(kb.red_flags)
    for name, items in levels.items():
        assert {kb.red_flags[i["linkId"]].level for i in items} == {name.removeprefix("red_flags_")}
    assert {i["linkId"] for i in groups["pain"]} == set(kb.pain_sites)
    assert {i["linkId"] for i in groups["findings"] + groups["tests"]} == set(kb.assessments)
    flag = flags[0]
    assert flag["type"] == "choice" and [o["valueCoding"]["code"] for o in flag["answerOption"]] == ["yes", "no", "unsure"]
    assert flag["code"][0] == {"system": KB_SYSTEM, "code": flag["linkId"], "display": kb.red_flags[flag["linkId"]].label}
    ober = next(i for i in groups["tests"] if i["linkId"] == "ober_test")
    assert ober["repeats"] and {"positive-right", "negative-left"} <= {o["valueCoding"]["code"] for o in ober["answerOption"]}
    bladder = next(i for i in flags if i["linkId"] == "bladder_dysfunction")
    assert {"system": "http://snomed.info/sct", "code": kb.red_flags["bladder_dysfunction"].codes["snomed"]} in bladder["code"]


def test_the_questionnaire_is_served(client, kb):
    response = client.get("/fhir/Questionnaire/compensa-intake")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/fhir+json")
    assert response.json() == intake_questionnaire(kb)


def _structure(items: list[dict], path: tuple = ()) -> dict[tuple, dict]:
    out = {}
    for item in items:
        here = (*path, item["linkId"])
        out[here] = item
        out.update(_structure(item.get("item", []), here))
    return out


def test_responses_follow_the_questionnaire_structure_and_its_answer_options(kb):
    """Each answered item sits where the Questionnaire puts it and is one of its answerOptions."""
    from compensa.engine.quiz import library

    questions = _structure(intake_questionnaire(kb)["item"])
    for entry in library()[::10]:
        case = {k: v for k, v in canonical(kb, entry.case).items() if k in SECTIONS}
        for path, item in _structure(questionnaire_response_from_case(case, kb)["item"]).items():
            assert path in questions, (entry.id, path)
            options = [o.get("valueCoding", o) for o in questions[path].get("answerOption", [])]
            for answer in item.get("answer", []):
                if "valueCoding" in answer:
                    assert any(o.get("code") == answer["valueCoding"]["code"] and o.get("system") ==
                               answer["valueCoding"]["system"] for o in options), (entry.id, path, answer)
            if len(item.get("answer", [])) > 1:
                assert questions[path].get("repeats"), (entry.id, path)


def test_a_response_maps_back_to_the_same_case(kb):
    qr = questionnaire_response_from_case(CASE, kb, "1288992")
    assert validate_resource(qr) is None
    case, unmapped = case_from_questionnaire_response(qr, kb)
    assert unmapped == [] and canonical(kb, case) == canonical(kb, CASE)


def test_every_library_case_round_trips_through_the_questionnaire(kb):
    from compensa.engine.quiz import library

    for entry in library():
        expected = {k: v for k, v in canonical(kb, entry.case).items() if k in SECTIONS}
        case, unmapped = case_from_questionnaire_response(questionnaire_response_from_case(expected, kb), kb)
        assert unmapped == [] and canonical(kb, case) == expected, entry.id


def test_a_response_consults_through_post_v1_consult_like_the_case(client, kb):
    qr = questionnaire_response_from_case(CASE, kb)
    from_fhir = client.post("/v1/consult", json=qr)
    assert from_fhir.status_code == 200, from_fhir.text
    from_case = client.post("/v1/consult", json=CASE).json()
    report = from_fhir.json()
    assert report["case"] == from_case["case"]
    assert report["root_causes"] == from_case["root_causes"] and report["targets"] == from_case["targets"]
    assert report["targets"] and report["unrecognised"] == []


def test_a_red_flag_answered_yes_withholds_the_plan(client, kb):
    qr = questionnaire_response_from_case({**CASE, "red_flags": [{"id": "saddle_anaesthesia", "present": True}]}, kb)
    report = client.post("/v1/consult", json=qr).json()
    assert report["triage"]["level"] == "emergency" and report["plan_withheld"] and report["targets"] == []


@pytest.mark.parametrize("answer", [{"valueCoding": {"system": ANSWER_SYSTEM, "code": "unsure"}},
                                    {"valueString": "it is hard to say"}])
def test_an_unsure_or_unreadable_red_flag_answer_withholds_the_plan(client, kb, answer):
    qr = questionnaire_response_from_case(CASE, kb)
    first = qr["item"][0]["item"][0]["item"][0]  # red_flags > red_flags_emergency > the first flag asked
    first["answer"] = [answer]
    report = client.post("/v1/consult", json=qr).json()
    assert report["plan_withheld"] and report["targets"] == []
    assert report["triage"]["unsure"] == [first["linkId"]]


def test_unknown_items_come_back_in_unrecognised_and_an_unknown_flag_withholds(client, kb):
    qr = questionnaire_response_from_case(CASE, kb)
    groups = {g["linkId"]: g for g in qr["item"]}
    groups["tests"]["item"].append({"linkId": "obers_tset", "answer": [
        {"valueCoding": {"system": ANSWER_SYSTEM, "code": "positive-right"}}]})
    report = client.post("/v1/consult", json=qr).json()
    assert [u["term"] for u in report["unrecognised"]] == ["obers_tset"] and report["targets"]
    flagged = copy.deepcopy(qr)
    next(g for g in flagged["item"] if g["linkId"] == "red_flags")["item"].append(
        {"linkId": "numb_saddle_area", "answer": [{"valueCoding": {"system": ANSWER_SYSTEM, "code": "yes"}}]})
    report = client.post("/v1/consult", json=flagged).json()
    assert "numb_saddle_area" in report["triage"]["unmatched"] and report["targets"] == []


def test_bad_fhir_bodies_are_422(client, kb):
    invalid = questionnaire_response_from_case(CASE, kb)
    del invalid["status"]
    response = client.post("/v1/consult", json=invalid)
    assert response.status_code == 422 and "status" in response.json()["detail"][0]["msg"]
    response = client.post("/v1/consult", json={"resourceType": "Patient", "id": "x"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "resourceType"]
    with pytest.raises(CaseError):
        case_from_questionnaire_response({"resourceType": "Observation"}, kb)


def test_a_plain_case_is_not_taken_for_fhir(kb):
    assert case_from_body_if_fhir(CASE, kb) is None and case_from_body_if_fhir([1], kb) is None
