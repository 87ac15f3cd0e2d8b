"""HL7 CDS Hooks 2.0 (issue 17): discovery, hook calls with FHIR prefetch -> cards, feedback, EHR JWTs.

The requests are modelled on the specification's patient-view example (hookInstance, fhirServer,
context, prefetch); the JWTs are signed with a test ES384 key whose JWKS a local http.server serves.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from compensa.app.cds_hooks import SERVICE_ID
from tests.app.jwks import jwks_endpoint

DATA = Path(__file__).resolve().parents[1] / "data" / "fhir"
ISSUER = "https://ehr.example.org"
SERVICE = f"/cds-services/{SERVICE_ID}"
AUDIENCE = f"http://testserver{SERVICE}"
SNOMED = "http://snomed.info/sct"
KB = "https://compensa.dev/fhir/CodeSystem/kb"


def knee_request() -> dict:
    return json.loads((DATA / "patient_view_knee.json").read_text())


def with_observation(request: dict, observation: dict) -> dict:
    request = copy.deepcopy(request)
    request["prefetch"]["observations"]["entry"].append({"resource": observation})
    return request


def with_condition(request: dict, condition: dict) -> dict:
    request = copy.deepcopy(request)
    request["prefetch"]["conditions"]["entry"].append({"resource": condition})
    return request


def observation(id_: str, coding: dict, **value) -> dict:
    return {"resourceType": "Observation", "id": id_, "status": "final", "subject": {"reference": "Patient/1288992"},
            "effectiveDateTime": "2026-11-30T09:30:00Z", "code": {"coding": [coding]}, **value}


# ------------------------------------------------------------------------------------------- fixtures

class _Keys:
    def __init__(self):
        self.private = ec.generate_private_key(ec.SECP384R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": "ehr-key-1", "alg": "ES384", "use": "sig"}]}


@pytest.fixture(scope="module")
def jwks_server():
    """A local JWKS endpoint (a real HTTP server on a free port, in a thread)."""
    keys = _Keys()
    with jwks_endpoint(keys.jwks) as url:
        yield keys, url


def _client(env: dict) -> TestClient:
    from compensa.app.http import create_app

    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        return TestClient(create_app())


@pytest.fixture(scope="module")
def secure(jwks_server, tmp_path_factory):
    """The service trusting ISSUER (JWKS from the local server), with feedback kept in a file."""
    feedback = tmp_path_factory.mktemp("cds") / "feedback.jsonl"
    client = _client({"COMPENSA_CDS_TRUSTED_ISSUERS": json.dumps({ISSUER: jwks_server[1]}),
                      "COMPENSA_CDS_FEEDBACK": str(feedback)})
    client.feedback_file = feedback  # type: ignore[attr-defined]
    return client


@pytest.fixture(scope="module")
def insecure():
    return _client({"COMPENSA_CDS_INSECURE_NO_JWT": "true"})


def token(keys: _Keys, *, aud: str = AUDIENCE, iss: str = ISSUER, exp: float | None = None, key=None,
          headers: dict | None = None, jti: str | None = None, algorithm: str = "ES384") -> str:
    now = int(time.time())
    claims = {"iss": iss, "aud": aud, "iat": now, "exp": exp if exp is not None else now + 300,
              "jti": jti or str(uuid.uuid4()), "sub": "ehr-client"}
    return jwt.encode(claims, key if key is not None else keys.private, algorithm=algorithm,
                      headers={"kid": "ehr-key-1", "typ": "JWT", **(headers or {})})


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def by_indicator(cards: list[dict], indicator: str) -> list[dict]:
    return [c for c in cards if c["indicator"] == indicator]


def topic(card: dict) -> str:
    return card["source"]["topic"]["code"]


# ------------------------------------------------------------------------------------------- discovery

def test_discovery_lists_the_service_with_its_prefetch(insecure):
    services = insecure.get("/cds-services").json()["services"]
    assert [s["id"] for s in services] == [SERVICE_ID]
    service = services[0]
    assert service["hook"] == "patient-view" and service["title"] and service["description"]
    assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert set(service["prefetch"]) == {"patient", "observations", "conditions", "questionnaireResponses"}


# ---------------------------------------------------------------------------------------------- cards

def test_a_knee_request_gives_the_root_cause_card_and_lists_what_was_not_used(insecure):
    response = insecure.post(SERVICE, json=knee_request())
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    plan = [c for c in cards if topic(c) == "root-cause"]
    assert len(plan) == 1 and plan[0]["indicator"] == "info"
    assert "Lateral hip weakness" in plan[0]["summary"] and "confirmed" in plan[0]["summary"]
    assert "away from the pain" in plan[0]["detail"] and "tensor fasciae latae" in plan[0]["detail"]
    assert "Red-flag screening: partial" in plan[0]["detail"]  # partial screening is never shown as clear
    unused = [c for c in cards if topic(c) == "not-used"]
    assert len(unused) == 1 and unused[0]["summary"].startswith("Not used by compensa")
    for ref in ("Observation/local-bp", "Observation/broken", "Procedure/proc-1"):
        assert ref in unused[0]["detail"]
    assert "status" in unused[0]["detail"] and "required" in unused[0]["detail"]  # the validation message
    assert not by_indicator(cards, "critical") and not by_indicator(cards, "warning")


def test_every_card_has_the_spec_shape_the_disclaimer_and_a_link_to_the_case(insecure):
    cards = insecure.post(SERVICE, json=knee_request()).json()["cards"]
    kb_version = insecure.get("/v1/kb").json()["kb_version"]
    for card in cards:
        uuid.UUID(card["uuid"])
        assert len(card["summary"]) < 140 and card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"] == (kb_version if kb_version.startswith("compensa ") else f"compensa {kb_version}")
        assert card["source"]["url"].startswith("http://testserver")
        assert "not a diagnosis" in card["detail"]
        assert all(r["display"] for r in card["overrideReasons"])
        (link,) = card["links"]
        assert link["type"] == "absolute" and link["label"] == "Open the explanation in compensa"
        assert link["url"].startswith("http://testserver/#case=")
        encoded = link["url"].split("#case=", 1)[1]
        case = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        assert case["pain"] == [{"site": "lateral_knee", "side": "right"}]
        assert {"id": "ober_test", "result": "positive", "side": "right"} in case["tests"]
        assert {"id": "fever", "present": False} in case["red_flags"]


def test_public_url_is_used_for_links(monkeypatch):
    client = _client({"COMPENSA_CDS_INSECURE_NO_JWT": "1", "COMPENSA_PUBLIC_URL": "https://compensa.example.org/"})
    card = client.post(SERVICE, json=knee_request()).json()["cards"][0]
    assert card["links"][0]["url"].startswith("https://compensa.example.org/#case=")


def test_an_emergency_red_flag_observation_is_critical_and_withholds_the_plan(insecure):
    bowel = observation("bowel", {"system": SNOMED, "code": "72042002"}, valueBoolean=True)  # KB bowel_dysfunction
    cards = insecure.post(SERVICE, json=with_observation(knee_request(), bowel)).json()["cards"]
    critical = by_indicator(cards, "critical")
    assert len(critical) == 1 and cards[0]["indicator"] == "critical"
    assert "emergency" in critical[0]["summary"].lower() and "withheld" in critical[0]["detail"]
    assert not [c for c in cards if topic(c) == "root-cause"]  # no exercise info card
    assert "Stretch" not in json.dumps(cards)


def test_the_plan_is_withheld_on_this_path_exactly_like_the_case_path(insecure):
    bowel = observation("bowel", {"system": SNOMED, "code": "72042002"}, valueBoolean=True)
    request = with_observation(knee_request(), bowel)
    card = insecure.post(SERVICE, json=request).json()["cards"][0]
    encoded = card["links"][0]["url"].split("#case=", 1)[1]
    case = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    report = insecure.post("/v1/consult", json=case).json()
    assert report["triage"]["level"] == "emergency" and report["plan_withheld"] and report["targets"] == []


def test_an_urgent_red_flag_condition_is_a_warning(insecure):
    cancer = {"resourceType": "Condition", "id": "ca", "subject": {"reference": "Patient/1288992"},
              "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                             "code": "active"}]},
              "code": {"coding": [{"system": SNOMED, "code": "266987004"}]}}  # KB cancer_history
    cards = insecure.post(SERVICE, json=with_condition(knee_request(), cancer)).json()["cards"]
    assert cards[0]["indicator"] == "warning" and "Urgent red flag" in cards[0]["summary"]
    assert "withheld" in cards[0]["detail"]
    assert not by_indicator(cards, "critical") and not [c for c in cards if topic(c) == "root-cause"]


def linked_case(card: dict) -> dict:
    encoded = card["links"][0]["url"].split("#case=", 1)[1]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def test_patient_conditions_and_intake_answers_in_the_prefetch_are_read(insecure):
    import datetime

    from compensa.app.fhir_questionnaire import questionnaire_response_from_case
    from compensa.engine import load_kb

    itbs = {"resourceType": "Condition", "id": "itbs", "subject": {"reference": "Patient/1288992"},
            "code": {"coding": [{"system": SNOMED, "code": "423849004"}]},  # KB it_band_syndrome
            "bodySite": [{"text": "right knee"}]}
    request = with_condition(knee_request(), itbs)
    card = insecure.post(SERVICE, json=request).json()["cards"][0]
    case = linked_case(card)
    today = datetime.date.today()
    assert case["age"] == today.year - 1988 - ((today.month, today.day) < (3, 14)) and case["sex"] == "female"
    assert {"id": "it_band_syndrome"} in case["diagnoses"]
    qr = questionnaire_response_from_case({"red_flags": [{"id": "bowel_dysfunction", "present": True}]}, load_kb(),
                                          "1288992")
    request["prefetch"]["questionnaireResponses"] = {"resourceType": "Bundle", "type": "searchset",
                                                     "entry": [{"resource": qr}]}
    cards = insecure.post(SERVICE, json=request).json()["cards"]
    assert cards[0]["indicator"] == "critical" and not [c for c in cards if topic(c) == "root-cause"]


def test_a_red_flag_with_no_value_recorded_counts_as_unsure(insecure):
    fever = observation("fever-2", {"system": SNOMED, "code": "386661006"},
                        dataAbsentReason={"text": "patient could not say"})
    fever["effectiveDateTime"] = "2026-12-01T09:00:00Z"  # later than the fever: false in the sample
    cards = insecure.post(SERVICE, json=with_observation(knee_request(), fever)).json()["cards"]
    assert cards[0]["indicator"] == "warning" and "Fever" in cards[0]["summary"]
    assert not [c for c in cards if topic(c) == "root-cause"]
    assert "read as unsure" in [c for c in cards if topic(c) == "not-used"][0]["detail"]


def test_an_undated_unreadable_intake_answer_is_not_outranked_by_a_dated_no(insecure):
    request = knee_request()  # the sample records fever: false, dated
    qr = {"resourceType": "QuestionnaireResponse", "status": "completed", "subject": {"reference": "Patient/1288992"},
          "item": [{"linkId": "red_flags", "item": [{"linkId": "fever", "answer": [{"valueInteger": 3}]}]}]}
    request["prefetch"]["questionnaireResponses"] = {"resourceType": "Bundle", "type": "searchset",
                                                     "entry": [{"resource": qr}]}
    cards = insecure.post(SERVICE, json=request).json()["cards"]
    assert cards[0]["indicator"] == "warning" and not [c for c in cards if topic(c) == "root-cause"]


def test_a_red_flag_with_an_unknown_code_is_screened_by_its_text(insecure):
    local = observation("saddle-local", {"system": "http://ehr.example.org/local-codes", "code": "SADDLE"},
                        valueBoolean=True)
    local["code"]["text"] = "Saddle anaesthesia"
    cards = insecure.post(SERVICE, json=with_observation(knee_request(), local)).json()["cards"]
    assert cards[0]["indicator"] == "critical"
    assert not [c for c in cards if topic(c) == "root-cause"]


def test_a_shared_region_code_without_a_qualifier_is_not_guessed(insecure):
    request = knee_request()
    pain = request["prefetch"]["observations"]["entry"][0]["resource"]
    del pain["contained"]  # knee region + right, but which part of the knee?
    cards = insecure.post(SERVICE, json=request).json()["cards"]
    unused = [c for c in cards if topic(c) == "not-used"][0]
    assert "Observation/pain-knee" in unused["detail"] and "qualifier" in unused["detail"]
    encoded = cards[0]["links"][0]["url"].split("#case=", 1)[1]
    case = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert "pain" not in case


def test_resources_about_another_patient_are_not_used(insecure):
    other = observation("elsewhere", {"system": SNOMED, "code": "72042002"}, valueBoolean=True)
    other["subject"] = {"reference": "Patient/someone-else"}
    cards = insecure.post(SERVICE, json=with_observation(knee_request(), other)).json()["cards"]
    assert not by_indicator(cards, "critical")
    assert "Patient/someone-else" in [c for c in cards if topic(c) == "not-used"][0]["detail"]


def test_a_request_without_prefetch_is_412_and_a_malformed_one_422(insecure):
    request = knee_request()
    request["prefetch"] = {"patient": request["prefetch"]["patient"]}
    assert insecure.post(SERVICE, json=request).status_code == 412
    bad = knee_request()
    del bad["hookInstance"]
    bad["context"].pop("patientId")
    response = insecure.post(SERVICE, json=bad)
    assert response.status_code == 422
    assert {tuple(d["loc"]) for d in response.json()["detail"]} >= {("body", "hookInstance"),
                                                                     ("body", "context", "patientId")}
    assert insecure.post("/cds-services/nope", json=knee_request()).status_code == 404


def test_an_invalid_bundle_is_listed_not_a_500(insecure):
    request = knee_request()
    request["prefetch"]["conditions"] = {"resourceType": "Bundle", "entry": []}  # no type: invalid
    response = insecure.post(SERVICE, json=request)
    assert response.status_code == 200
    assert "prefetch.conditions" in [c for c in response.json()["cards"] if topic(c) == "not-used"][0]["detail"]


def test_library_cases_keep_the_card_invariants():
    """Over the case library (every red-flag case, and a sample of the rest): an emergency is a critical
    card first, urgent a warning first, a withheld plan never shows the root-cause card, summaries < 140."""
    from compensa.app.cds_hooks import cards_for
    from compensa.engine import load_kb
    from compensa.engine.consult import consultant_for
    from compensa.engine.quiz import library

    kb = load_kb()
    consultant = consultant_for(kb)
    cases = [c for i, c in enumerate(library()) if i % 6 == 0 or set(c.expect.triage) - {"routine", "self_care"}]
    for entry in cases:
        report = consultant.consult(entry.case).to_dict()
        cards = cards_for(report, kb, "https://compensa.example.org", [], [])
        assert all(len(c["summary"]) < 140 and "not a diagnosis" in c["detail"] for c in cards), entry.id
        if report["plan_withheld"]:
            assert not [c for c in cards if topic(c) == "root-cause"], entry.id
        first = cards[0]["indicator"] if cards else None
        assert first == {"emergency": "critical", "urgent": "warning"}.get(report["triage"]["level"], first), entry.id


# ------------------------------------------------------------------------------------------------ JWT

def test_a_jwt_signed_by_a_trusted_ehr_is_accepted(secure, jwks_server):
    response = secure.post(SERVICE, json=knee_request(), headers=bearer(token(jwks_server[0])))
    assert response.status_code == 200, response.text
    assert response.json()["cards"]


@pytest.mark.parametrize("case, expected", [
    ("missing", "none was sent"),
    ("wrong_aud", "audience"),
    ("expired", "expired"),
    ("untrusted", "not trusted"),
    ("other_key", "not valid"),
    ("hmac", "not accepted"),
    ("foreign_jku", "jku"),
    ("not_a_jwt", "not a JWT"),
])
def test_a_missing_or_bad_jwt_is_refused_401(secure, jwks_server, case, expected):
    keys = jwks_server[0]
    headers = {
        "missing": {},
        "wrong_aud": bearer(token(keys, aud="https://elsewhere.example.org/cds-services/compensa-msk")),
        "expired": bearer(token(keys, exp=time.time() - 3600)),
        "untrusted": bearer(token(keys, iss="https://rogue.example.org")),
        "other_key": bearer(token(keys, key=ec.generate_private_key(ec.SECP384R1()))),
        "hmac": bearer(token(keys, key="a-shared-secret-that-is-long-enough-for-hs256", algorithm="HS256")),
        "foreign_jku": bearer(token(keys, headers={"jku": "https://rogue.example.org/jwks"})),
        "not_a_jwt": bearer("abc.def"),
    }[case]
    response = secure.post(SERVICE, json=knee_request(), headers=headers)
    assert response.status_code == 401
    assert expected in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_jwt_is_accepted_once(secure, jwks_server):
    signed = token(jwks_server[0])
    assert secure.post(SERVICE, json=knee_request(), headers=bearer(signed)).status_code == 200
    again = secure.post(SERVICE, json=knee_request(), headers=bearer(signed))
    assert again.status_code == 401 and "already used" in again.json()["detail"]


def test_insecure_mode_accepts_no_jwt_and_discovery_is_public(insecure, secure):
    assert insecure.post(SERVICE, json=knee_request()).status_code == 200
    assert secure.get("/cds-services").status_code == 200


# ------------------------------------------------------------------------------------------- feedback

def test_feedback_is_appended_as_json_lines(secure, jwks_server):
    feedback = {"feedback": [
        {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-12-01T10:05:31Z",
         "overrideReason": {"reason": {"system": "https://compensa.dev/fhir/CodeSystem/override-reason",
                                       "code": "clinical-judgement"}, "userComment": "seen last week"}},
        {"card": str(uuid.uuid4()), "outcome": "accepted", "acceptedSuggestions": [],
         "outcomeTimestamp": "2026-12-01T10:06:00Z"}]}
    audience = f"{AUDIENCE}/feedback"
    response = secure.post(f"{SERVICE}/feedback", json=feedback, headers=bearer(token(jwks_server[0], aud=audience)))
    assert response.status_code == 200 and response.json() == {}
    lines = [json.loads(line) for line in secure.feedback_file.read_text().splitlines()]
    assert [line["card"] for line in lines[-2:]] == [f["card"] for f in feedback["feedback"]]
    assert lines[-1]["issuer"] == ISSUER and lines[-1]["service"] == SERVICE_ID


def test_bad_feedback_is_422_and_feedback_needs_a_jwt(secure, jwks_server):
    audience = f"{AUDIENCE}/feedback"
    bad = {"feedback": [{"card": "x", "outcome": "ignored", "outcomeTimestamp": "yesterday"}]}
    response = secure.post(f"{SERVICE}/feedback", json=bad, headers=bearer(token(jwks_server[0], aud=audience)))
    assert response.status_code == 422
    where = {tuple(d["loc"]) for d in response.json()["detail"]}
    assert where == {("body", "feedback", 0, "outcome"), ("body", "feedback", 0, "outcomeTimestamp")}
    assert secure.post(f"{SERVICE}/feedback", json={"feedback": []}).status_code == 401
    as_service = bearer(token(jwks_server[0], aud=AUDIENCE))  # the service's own URL is accepted for its feedback
    assert secure.post(f"{SERVICE}/feedback", json={"feedback": []}, headers=as_service).status_code == 200
    elsewhere = bearer(token(jwks_server[0], aud="http://testserver/cds-services/other/feedback"))
    assert secure.post(f"{SERVICE}/feedback", json={"feedback": []}, headers=elsewhere).status_code == 401


# ------------------------------------------------------------------------------------ sample exchange

def test_write_the_sample_exchange(insecure):
    """tests/data/fhir/sample_exchange.json: a request and the response, for the documentation."""
    request = knee_request()
    response = insecure.post(SERVICE, json=request)
    assert response.status_code == 200
    cards = response.json()["cards"]
    for card in cards:  # stable across runs: uuids are fresh per response
        card["uuid"] = "00000000-0000-4000-8000-" + f"{cards.index(card):012d}"
    sample = {"comment": "POST /cds-services/compensa-msk (patient-view), generated by "
                         "tests/app/test_cds_hooks.py::test_write_the_sample_exchange; the age follows the "
                         "date it was generated", "request": request, "response": {"cards": cards}}
    text = json.dumps(sample, indent=2, ensure_ascii=False) + "\n"
    path = DATA / "sample_exchange.json"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    assert json.loads(path.read_text())["response"]["cards"]


def test_a_prefetch_bigger_than_a_case_body_is_accepted_up_to_the_cds_limit(insecure):
    """An EHR's prefetch can hold hundreds of Observations: far over the 64 KiB case limit, under 1 MiB."""
    from compensa.app.http import MAX_BODY, MAX_CDS_BODY

    request = knee_request()
    filler = observation("bp", {"system": "https://ehr.example.org/local-codes", "code": "unrelated"}, valueString="x" * 400)
    request["prefetch"]["observations"]["entry"] += [{"resource": {**filler, "id": f"bp{i}"}} for i in range(250)]
    size = len(json.dumps(request).encode())
    assert MAX_BODY < size < MAX_CDS_BODY
    response = insecure.post(SERVICE, json=request)
    assert response.status_code == 200, response.text[:300]
    assert any("Likely root" in card["summary"] for card in response.json()["cards"])
    request["prefetch"]["observations"]["entry"] *= 12  # now over the CDS limit
    assert insecure.post(SERVICE, json=request).status_code == 413
    assert insecure.post("/v1/consult", content=b"{" + b" " * MAX_BODY + b"}",
                         headers={"content-type": "application/json"}).status_code == 413
