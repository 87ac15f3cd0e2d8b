"""Hostile review of the embedding paths (CDS Hooks, FHIR QuestionnaireResponse, batch, API keys).

Each test names a way a present or unsure red flag could be hidden, or bad input could crash or
destroy data, on the new input paths; the fix is in the module the test names. The property tests
state the invariants: a red-flag answer of yes or unsure in FHIR data, however it is wrapped or
ordered among other resources, withholds the plan; batch answers every input line exactly once.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.app.jwks import jwks_endpoint

DATA = Path(__file__).resolve().parents[1] / "data" / "fhir"
SERVICE = "/cds-services/compensa-msk"
SNOMED = "http://snomed.info/sct"
KB = "https://compensa.dev/fhir/CodeSystem/kb"
ANSWER = "https://compensa.dev/fhir/CodeSystem/answer"
BOWEL = {"system": SNOMED, "code": "72042002"}  # KB bowel_dysfunction (emergency)
PATIENT = "1288992"


@pytest.fixture(scope="module")
def insecure():
    from compensa.app.http import create_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COMPENSA_CDS_INSECURE_NO_JWT", "true")
        return TestClient(create_app(), raise_server_exceptions=False)


def knee_request() -> dict:
    return json.loads((DATA / "patient_view_knee.json").read_text())


def observation(id_: str | None, coding: dict, when: str | None = "2026-11-30T09:30:00Z", **value) -> dict:
    out = {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{PATIENT}"},
           "code": {"coding": [dict(coding)]}, **copy.deepcopy(value)}
    if id_ is not None:
        out["id"] = id_
    if when is not None:
        out["effectiveDateTime"] = when
    return out


def with_observations(*resources: dict, request: dict | None = None) -> dict:
    request = copy.deepcopy(request or knee_request())
    request["prefetch"]["observations"]["entry"] += [{"resource": r} for r in resources]
    return request


def cards_of(client, request: dict) -> list[dict]:
    response = client.post(SERVICE, json=request)
    assert response.status_code == 200, response.text
    return response.json()["cards"]


def topic(card: dict) -> str:
    return card["source"]["topic"]["code"]


def assert_withheld(cards: list[dict], indicator: str | None = None) -> None:
    """No exercise plan card, and a critical or warning card first that says so."""
    assert not [c for c in cards if topic(c) == "root-cause"], [c["summary"] for c in cards]
    assert cards and cards[0]["indicator"] in ("critical", "warning"), [c["summary"] for c in cards]
    if indicator:
        assert cards[0]["indicator"] == indicator, [c["summary"] for c in cards]
    assert "Stretch" not in json.dumps(cards)


def assert_plan(cards: list[dict]) -> None:
    assert [c for c in cards if topic(c) == "root-cause"], [c["summary"] for c in cards]


# ------------------------------------------------------------------- FHIR values that are not booleans

@pytest.mark.parametrize("value", [None, 0, "", "no"], ids=["null", "zero", "empty", "no-string"])
def test_a_red_flag_valueboolean_that_is_not_a_boolean_is_unsure_never_a_no(insecure, value):
    """fhir.resources (pydantic, lax) accepts valueBoolean null, 0 or "no": bool() read them as no."""
    cards = cards_of(insecure, with_observations(observation("b", BOWEL, valueBoolean=value)))
    assert_withheld(cards)


def test_a_red_flag_valueboolean_false_is_still_a_no(insecure):
    assert_plan(cards_of(insecure, with_observations(observation("b", BOWEL, valueBoolean=False))))


def test_a_codeable_answer_holding_both_yes_and_no_is_unsure(insecure):
    both = {"coding": [{"system": ANSWER, "code": "no"}, {"system": ANSWER, "code": "yes"}]}
    assert_withheld(cards_of(insecure, with_observations(observation("b", BOWEL, valueCodeableConcept=both))))


# -------------------------------------------------------------------- which of two answers is latest

@pytest.mark.parametrize("yes_when, no_when", [
    ("2026-12-01T06:00:00Z", "2026-12-01T10:00:00+05:00"),   # the no is 05:00Z: earlier than the yes
    ("2026-12-01", "2026-12-01T00:00:00Z"),                  # the yes is some time that day
    ("2026-12", "2026-12-01"),                               # the yes is some day that month
    ("2026", "2026-06-01T12:00:00Z"),
    ("2026-12-01T10:00:00", "2026-12-01T09:00:00Z"),         # no time zone: could be 20:00Z or 00:00Z
    ("not a date", "2026-12-01T09:00:00Z"),
])
def test_a_no_that_is_not_surely_later_does_not_clear_a_yes(insecure, yes_when, no_when):
    """Times were compared as strings: time zones and partial dates ordered them wrongly."""
    yes = observation("b1", BOWEL, when=None, valueBoolean=True)
    yes["effectiveDateTime" if yes_when[:1].isdigit() else "issued"] = yes_when
    no = observation("b2", BOWEL, when=no_when, valueBoolean=False)
    for order in ((yes, no), (no, yes)):
        assert_withheld(cards_of(insecure, with_observations(*order)))


@pytest.mark.parametrize("yes_when, no_when", [
    ("2026-11-30T09:00:00Z", "2026-12-01T09:00:00Z"),
    ("2026-12-01T10:00:00+05:00", "2026-12-01T06:00:00Z"),  # 05:00Z, then 06:00Z (as strings: the other way)
    ("2026-11", "2026-12-15"),
    ("2026-11-30", "2026-12-02T12:00:00Z"),
])
def test_a_no_that_is_surely_later_clears_a_yes(insecure, yes_when, no_when):
    yes = observation("b1", BOWEL, when=yes_when, valueBoolean=True)
    no = observation("b2", BOWEL, when=no_when, valueBoolean=False)
    for order in ((yes, no), (no, yes)):
        assert_plan(cards_of(insecure, with_observations(*order)))


# ------------------------------------------------------------------------------- whose data it is

@pytest.mark.parametrize("reference", [
    f"Patient/{PATIENT}/_history/3", f"https://ehr.example.org/fhir/Patient/{PATIENT}",
    f"https://ehr.example.org/fhir/Patient/{PATIENT}/_history/2"])
def test_a_red_flag_about_this_patient_in_another_reference_form_is_read(insecure, reference):
    """A versioned reference to the patient in context was taken for another patient and dropped."""
    flag = {**observation("b", BOWEL, valueBoolean=True), "subject": {"reference": reference}}
    assert_withheld(cards_of(insecure, with_observations(flag)))


@pytest.mark.parametrize("reference", ["https://ehr.example.org/fhir/Patient/999", "Patient/999/_history/1"])
def test_a_resource_about_another_patient_in_an_absolute_reference_is_not_used(insecure, reference):
    """An absolute URL to another patient was read as this patient's data (it could clear a flag)."""
    yes = observation("b1", BOWEL, valueBoolean=True)
    other_no = {**observation("b2", BOWEL, when="2026-12-01T09:00:00Z", valueBoolean=False),
                "subject": {"reference": reference}}
    cards = cards_of(insecure, with_observations(yes, other_no))
    assert_withheld(cards)
    assert "not the patient in context" in json.dumps(cards)


# ------------------------------------------------------------------------------- how it is coded

@pytest.mark.parametrize("coding", [
    {"system": "HTTP://SNOMED.INFO/SCT", "code": "72042002"}, {"system": SNOMED + "/", "code": "72042002"},
    {"system": KB, "code": "Bowel_Dysfunction"}, {"system": KB, "code": "bowel dysfunction"},
    {"system": KB, "code": "bowel-dysfunction"}, {"system": " " + SNOMED, "code": "72042002"}])
def test_a_red_flag_code_in_another_letter_case_or_spelling_is_read(insecure, coding):
    assert_withheld(cards_of(insecure, with_observations(observation("b", coding, valueBoolean=True))))


def test_a_red_flag_in_an_observation_component_is_read(insecure):
    panel = observation("panel", {"system": "http://loinc.org", "code": "00000-0"},
                        component=[{"code": {"coding": [{"system": SNOMED, "code": "386661006"}]},  # fever
                                    "valueBoolean": False},
                                   {"code": {"coding": [BOWEL]}, "valueBoolean": True}])
    cards = cards_of(insecure, with_observations(panel))
    assert_withheld(cards, "critical")
    negative = observation("panel", {"system": "http://loinc.org", "code": "00000-0"},
                           component=[{"code": {"coding": [BOWEL]}, "valueBoolean": False}])
    assert_plan(cards_of(insecure, with_observations(negative)))


@pytest.mark.parametrize("mutate", [
    lambda o: o["code"]["coding"][0].update(code=" 72042002 "),           # a code with spaces: invalid FHIR
    lambda o: o.pop("status"),                                            # no status: invalid FHIR
    lambda o: o.update(valueBoolean=[True]),
    lambda o: o.update(effectiveDateTime="yesterday"),
], ids=["code-spaces", "no-status", "value-list", "bad-date"])
def test_an_invalid_resource_carrying_a_red_flag_counts_as_unsure(insecure, mutate):
    """An Observation that fails FHIR validation was listed as not used, and its red flag lost."""
    flag = observation("b", BOWEL, valueBoolean=True)
    mutate(flag)
    cards = cards_of(insecure, with_observations(flag))
    assert_withheld(cards)
    assert "Observation/b" in json.dumps(cards)


@pytest.mark.parametrize("shape", ["entry-object", "plain-list"])
def test_a_malformed_bundle_carrying_a_red_flag_counts_as_unsure(insecure, shape):
    request = knee_request()
    flag = observation("b", BOWEL, valueBoolean=True)
    if shape == "entry-object":
        request["prefetch"]["observations"]["entry"] = {"resource": flag}
    else:
        request["prefetch"]["observations"] = [flag]
    assert_withheld(cards_of(insecure, request))


def test_an_invalid_resource_about_another_patient_or_entered_in_error_is_not_read_as_a_flag(insecure):
    other = {**observation("b", BOWEL, valueBoolean=True), "subject": {"reference": "Patient/999"}}
    other.pop("status")
    error = observation("c", BOWEL, valueBoolean=True, status="entered-in-error")
    error["code"]["coding"][0]["code"] = " 72042002 "
    assert_plan(cards_of(insecure, with_observations(other, error)))


# -------------------------------------------------------------------------------- property: FHIR

_OTHER = [
    observation("o1", {"system": "http://loinc.org", "code": "8480-6"}, valueQuantity={"value": 120}),
    observation("o2", {"system": SNOMED, "code": "386661006"}, valueBoolean=False),  # fever: no
    observation("o3", {"system": KB, "code": "ober_test"}, valueBoolean=True),
    {"resourceType": "Procedure", "id": "p", "status": "completed", "subject": {"reference": f"Patient/{PATIENT}"}},
    {"resourceType": "Observation", "id": "broken"},
    None, "text", 7,
]


def _flag(value: dict, when: str | None, ref_form: int, code_form: int, wrap: int) -> dict:
    codings = [BOWEL, {"system": SNOMED.upper(), "code": "72042002"}, {"system": KB, "code": "bowel_dysfunction"},
               {"system": KB, "code": "Bowel Dysfunction"}]
    flag = observation(None, codings[code_form], when=when, **value)
    flag["subject"] = {"reference": [f"Patient/{PATIENT}", f"Patient/{PATIENT}/_history/9",
                                     f"http://ehr/fhir/Patient/{PATIENT}"][ref_form]}
    if wrap == 1:  # as a component of a panel
        part = {k: flag.pop(k) for k in list(flag) if k == "code" or k.startswith("value") or k == "dataAbsentReason"}
        flag["code"] = {"coding": [{"system": "http://loinc.org", "code": "00000-0"}]}
        flag["component"] = [part]
    return flag


_VALUES = st.sampled_from([{"valueBoolean": True}, {"valueString": "Yes"}, {"valueString": "unsure"},
                           {"valueCodeableConcept": {"coding": [{"system": ANSWER, "code": "yes"}]}},
                           {"valueCodeableConcept": {"coding": [{"system": ANSWER, "code": "unsure"}]}},
                           {"dataAbsentReason": {"text": "asked, unknown"}}, {"valueBoolean": None},
                           {"valueInteger": 1}, {}])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_VALUES, when=st.sampled_from([None, "2026-11-30T09:30:00Z", "2026-12-01", "2026-12"]),
       ref_form=st.integers(0, 2), code_form=st.integers(0, 3), wrap=st.integers(0, 1),
       others=st.lists(st.sampled_from(range(len(_OTHER))), max_size=5), position=st.integers(0, 10),
       same_time_no=st.booleans())
def test_property_a_yes_or_unsure_red_flag_observation_withholds_the_plan(insecure, value, when, ref_form,
                                                                        code_form, wrap, others, position,
                                                                        same_time_no):
    """For any FHIR request containing a red-flag Observation with a true/unsure/unreadable value, in
    any order among other resources (and a "no" at the same or an undated time), the cards contain no
    exercise plan and a critical or warning card comes first."""
    request = knee_request()
    entries = request["prefetch"]["observations"]["entry"]
    extra = [{"resource": copy.deepcopy(_OTHER[i])} for i in others]
    if same_time_no:
        extra.append({"resource": observation("no", BOWEL, when=when, valueBoolean=False)})
    extra.insert(min(position, len(extra)), {"resource": _flag(value, when, ref_form, code_form, wrap)})
    entries += extra
    cards = cards_of(insecure, request)
    assert_withheld(cards)
    assert "bowel" in (cards[0]["summary"] + cards[0]["detail"]).lower(), cards[0]  # the card names the flag


# ------------------------------------------------------------------ QuestionnaireResponse on /v1/consult

PAIN = {"linkId": "pain", "item": [{"linkId": "lateral_knee", "answer": [{"valueCoding": {"system": SNOMED,
                                                                                        "code": "24028007"}}]}]}
TESTS = {"linkId": "tests", "item": [{"linkId": "ober_test", "answer": [{"valueCoding": {"system": ANSWER,
                                                                                       "code": "positive-right"}}]}]}


def qr(*items: dict) -> dict:
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": [PAIN, TESTS, *items]}


def answer(code: str) -> dict:
    return {"valueCoding": {"system": ANSWER, "code": code}}


def consult(client, body: dict) -> dict:
    response = client.post("/v1/consult", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_intake_baseline_keeps_the_plan(insecure):
    report = consult(insecure, qr())
    assert report["targets"] and not report["plan_withheld"]


@pytest.mark.parametrize("group", ["pain", "tests", "findings"])
@pytest.mark.parametrize("code", ["yes", "unsure"])
def test_a_red_flag_item_in_the_wrong_group_is_still_a_red_flag(insecure, group, code):
    """A red-flag linkId under pain or tests was read as a pain site or a test, and dropped."""
    body = qr()
    body["item"].append({"linkId": group, "item": [{"linkId": "bowel_dysfunction", "answer": [answer(code)]}]})
    report = consult(insecure, body)
    assert report["plan_withheld"] and report["targets"] == [] and report["triage"]["level"] in ("emergency", "urgent")


def test_an_unknown_item_whose_text_reads_like_a_red_flag_withholds_the_plan(insecure):
    body = qr({"linkId": "q7", "text": "Saddle anaesthesia", "answer": [{"valueBoolean": True}]})
    report = consult(insecure, body)
    assert report["plan_withheld"] and report["triage"]["level"] in ("emergency", "urgent")
    no = consult(insecure, qr({"linkId": "q7", "text": "Saddle anaesthesia", "answer": [{"valueBoolean": False}]}))
    assert not no["plan_withheld"]


def test_an_invalid_questionnaire_response_names_the_field(insecure):
    body = qr({"linkId": "red_flags", "item": [{"linkId": "bowel_dysfunction", "answer": answer("yes")}]})
    response = insecure.post("/v1/consult", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"][:3] == ["body", "item", 2], detail


_ANSWERS = st.sampled_from([answer("yes"), answer("unsure"), answer("YES"), {"valueBoolean": True},
                            {"valueString": "yes"}, {"valueString": "don't know"}, {"valueInteger": 1},
                            {"valueCoding": {"system": SNOMED, "code": "373066001"}}, {"valueDate": "2026-01-01"}])
_NOISE = st.sampled_from([answer("no"), {"valueBoolean": False}, {"valueString": "no"}])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(alarming=_ANSWERS, noise=st.lists(_NOISE, max_size=2), before=st.booleans(),
       group=st.sampled_from([None, "red_flags", "red_flags_emergency", "pain", "tests", "findings", "about",
                              "misc"]),
       nest_in_answer=st.booleans(), repeat=st.booleans())
def test_property_a_yes_or_unsure_intake_answer_anywhere_withholds_the_plan(insecure, alarming, noise, before,
                                                                           group, nest_in_answer, repeat):
    """A QuestionnaireResponse with a red-flag item answered yes/unsure anywhere (nested groups,
    repeated items, odd answer types, alongside no answers) withholds the plan."""
    answers = noise + [alarming] if before else [alarming] + noise
    items = [{"linkId": "bowel_dysfunction", "answer": answers}]
    if repeat:
        items.append({"linkId": "bowel_dysfunction", "answer": [answer("no")]})
    body = qr()
    if nest_in_answer:  # under an answer of the pain item
        body["item"][0]["item"][0]["answer"][0]["item"] = items
    elif group is None:
        body["item"] += items
    elif group == "red_flags_emergency":
        body["item"].append({"linkId": "red_flags", "item": [{"linkId": group, "item": items}]})
    else:
        body["item"].append({"linkId": group, "item": items})
    report = consult(insecure, body)
    assert report["plan_withheld"] and report["targets"] == [], (body, report["triage"])


# ------------------------------------------------------------------------------------------ JWT

@pytest.fixture(scope="module")
def jwks(tmp_path_factory):
    """A JWKS server with an EC and an RSA key, and a service trusting it."""

    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    ec_key = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = {"keys": [{**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "ec1"},
                     {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "rsa1"}]}
    hits: list = []
    from compensa.app.http import create_app

    with jwks_endpoint(keys, hits, only_path=None) as url:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("COMPENSA_CDS_TRUSTED_ISSUERS", json.dumps({"https://ehr": url}))
            client = TestClient(create_app(), raise_server_exceptions=False)
        yield client, ec_key, rsa_key, hits


def _unsigned(header: dict, claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part(header)}.{part(claims)}.{base64.urlsafe_b64encode(b'x' * 96).rstrip(b'=').decode()}"


def _claims(**more) -> dict:
    now = int(time.time())
    return {"iss": "https://ehr", "aud": f"http://testserver{SERVICE}", "iat": now, "exp": now + 300,
            "jti": str(uuid.uuid4()), **more}


@pytest.mark.parametrize("alg, kid", [("RS384", "ec1"), ("ES384", "rsa1"), ("PS256", "ec1"), ("ES256", "rsa1")])
def test_a_jwt_whose_algorithm_does_not_fit_its_key_is_a_401_not_a_500(jwks, alg, kid):
    """PyJWT raises TypeError ("Expecting a PEM-formatted key") when the header's alg names another
    key type than the kid's key: that was a 500 any caller could trigger without a valid signature."""
    client = jwks[0]
    response = client.post(SERVICE, json=knee_request(),
                           headers={"Authorization": "Bearer " + _unsigned({"alg": alg, "kid": kid}, _claims())})
    assert response.status_code == 401, response.text
    assert "key" in response.json()["detail"]


def test_unknown_kids_do_not_make_a_jwks_fetch_each(jwks):
    """A forged token naming a trusted issuer and a new kid made PyJWKClient fetch the JWKS again on
    every request (no signature needed): a way to flood the EHR's JWKS and tie up our threads."""
    client, _, _, hits = jwks
    client.post(SERVICE, json=knee_request(),
                headers={"Authorization": "Bearer " + _unsigned({"alg": "ES384", "kid": "ec1"}, _claims())})
    before = len(hits)
    for _ in range(5):
        response = client.post(SERVICE, json=knee_request(), headers={
            "Authorization": "Bearer " + _unsigned({"alg": "ES384", "kid": str(uuid.uuid4())}, _claims())})
        assert response.status_code == 401
    assert len(hits) - before <= 1, hits


def test_a_good_jwt_still_works_with_the_rsa_key(jwks):
    import jwt

    client, _, rsa_key, _ = jwks
    token = jwt.encode(_claims(), rsa_key, algorithm="RS384", headers={"kid": "rsa1"})
    response = client.post(SERVICE, json=knee_request(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------------------------------- batch

def _batch(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compensa", "batch", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_batch_refuses_to_write_over_its_input(tmp_path):
    """``compensa batch cases.jsonl -o cases.jsonl`` replaced the cases with the reports."""
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"pain": ["lateral_knee"]}\n')
    link = tmp_path / "link.jsonl"
    link.symlink_to(cases)
    for output in (str(cases), str(link), str(tmp_path / "." / "cases.jsonl")):
        done = _batch(str(cases), "-o", output, "--jobs", "1")
        assert done.returncode == 2, done.stderr
        assert "input" in done.stderr and "Traceback" not in done.stderr
        assert cases.read_text() == '{"pain": ["lateral_knee"]}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.jsonl", "link.jsonl"]


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=400) | st.lists(st.sampled_from(
    [b'{"pain": ["lateral_knee"]}', b"", b"\r", b"\xef\xbb\xbf{}", b"\x00", b"\xff\xfe", b"[" * 40, b'"\\ud800"',
     b'{"pain": ["\\ud800"]}', b"{}"]), max_size=8).map(lambda parts: b"\n".join(parts)))
def test_property_batch_answers_every_input_line_once_in_order(data):
    """Batch output line count equals input line count for any bytes, numbered 1..n in order."""
    import io

    from compensa.engine.batch import count_lines, read_lines, run_batch

    worker = _worker()
    expected = len(data.split(b"\n")) - (data.endswith(b"\n")) if data else 0
    results = list(run_batch(read_lines(io.BytesIO(data)), worker, jobs=1))
    assert [r.line for r in results] == list(range(1, expected + 1))
    for r in results:
        record = json.loads(r.json)
        assert record["line"] == r.line and ("report" in record) != ("errors" in record)
    path = Path(f"/tmp/compensa-hostile-{uuid.uuid4().hex}.jsonl")
    try:
        path.write_bytes(data)
        assert count_lines(str(path)) == expected
    finally:
        path.unlink()


_WORKER = []


def _worker():
    from compensa.engine.batch import BatchWorker

    if not _WORKER:
        _WORKER.append(BatchWorker())
    return _WORKER[0]


# ---------------------------------------------------------------------------------------- API keys

KEY = "k" * 8 + "0123456789abcdef"


@pytest.fixture(scope="module")
def keyed():
    from compensa.app.http import create_app

    return TestClient(create_app(api_keys=[KEY]), raise_server_exceptions=False)


def test_api_keys_in_odd_places(keyed, caplog):
    case = {"pain": ["lateral_knee"]}
    assert keyed.post(f"/v1/consult?api_key={KEY}", json=case).status_code == 401
    assert keyed.post(f"/v1/consult?X-API-Key={KEY}", json=case).status_code == 401
    assert keyed.post("/v1/consult", json=case, headers={"x-api-key": f"  {KEY}  "}).status_code == 200
    assert keyed.post("/v1/consult", json=case, headers={"X-API-KEY": KEY}).status_code == 200
    two = [("x-api-key", "wrong-wrong-wrong-1"), ("x-api-key", KEY)]
    assert keyed.post("/v1/consult", json=case, headers=two).status_code == 200
    assert keyed.post("/v1/consult", json=case, headers=[("x-api-key", "wrong-wrong-wrong-1")]).status_code == 401
    assert keyed.post("/v1/consult", json=case, headers={"Authorization": f"Bearer  {KEY}"}).status_code == 200
    for path in ("/static/../v1/kb", "/cds-services/../v1/kb", "/healthz/../v1/kb", "/static/%2e%2e/v1/kb"):
        assert keyed.get(path).status_code in (401, 404), path
    assert KEY not in caplog.text


# ------------------------------------------------------------------------- text that is not UTF-8

def _raw_post(client, path: str, body: dict, marker: str = "SURR"):
    text = json.dumps(body).replace(marker, "\\ud800")  # a valid JSON escape of an unpaired surrogate
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize("where", ["id", "prefetch-key"])
def test_an_unpaired_surrogate_echoed_into_a_card_is_not_a_500(insecure, where):
    """A resource id or prefetch key of ``\\ud800`` reached the not-used card, and JSONResponse's
    UTF-8 encoding raised UnicodeEncodeError."""
    request = knee_request()
    if where == "id":
        request["prefetch"]["observations"]["entry"].append(
            {"resource": {"resourceType": "Observation", "id": "SURR", "status": "final", "code": {"text": "x"}}})
    else:
        request["prefetch"]["SURR"] = {}
    response = _raw_post(insecure, SERVICE, request)
    assert response.status_code == 200, response.text
    assert any(topic(c) == "not-used" for c in response.json()["cards"])


def test_feedback_with_an_unpaired_surrogate_is_written_whole_or_not_at_all(tmp_path):
    """Feedback lines were written one by one: the second entry's surrogate raised after the first was
    appended (a partial write, then a 500)."""
    from compensa.app.http import create_app

    feedback = tmp_path / "feedback.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COMPENSA_CDS_INSECURE_NO_JWT", "true")
        patch.setenv("COMPENSA_CDS_FEEDBACK", str(feedback))
        client = TestClient(create_app(), raise_server_exceptions=False)
    entry = {"outcome": "accepted", "outcomeTimestamp": "2026-12-01T10:05:31Z"}
    response = _raw_post(client, f"{SERVICE}/feedback", {"feedback": [{"card": "ok", **entry},
                                                                      {"card": "SURR", **entry}]})
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in feedback.read_text().splitlines()]
    assert [line["card"] for line in lines] == ["ok", "\ud800"]


def test_a_jwks_that_cannot_be_fetched_fails_fast_after_the_first_try(tmp_path):
    """Every request waited out PyJWKClient's 5 s timeout in turn (it fetches under one lock) while
    the issuer's JWKS was slow or down; now the failure is remembered for a few seconds."""
    import http.server
    import threading

    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(7)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from compensa.app.http import create_app

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("COMPENSA_CDS_TRUSTED_ISSUERS", json.dumps(
                {"https://slow-ehr": f"http://127.0.0.1:{server.server_address[1]}/jwks.json"}))
            client = TestClient(create_app(), raise_server_exceptions=False)
        key = ec.generate_private_key(ec.SECP384R1())

        def call():
            token = jwt.encode(_claims(iss="https://slow-ehr"), key, algorithm="ES384", headers={"kid": "k"})
            started = time.monotonic()
            response = client.post(SERVICE, json=knee_request(), headers={"Authorization": f"Bearer {token}"})
            return response, time.monotonic() - started

        first, _ = call()
        assert first.status_code == 401 and "JWKS" in first.json()["detail"]
        second, seconds = call()
        assert second.status_code == 401 and seconds < 1.0, (second.text, seconds)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_batch_stopped_mid_run_leaves_no_temporary_file_and_no_traceback(tmp_path, signum):
    """ctrl-C (SIGINT to the whole process group) printed a KeyboardInterrupt traceback from every
    pool process; SIGTERM (kill, timeout, a container stopping) left the .compensa-*.tmp file."""
    import os
    import signal

    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(
        json.dumps({"pain": ["lateral_knee"], "tests": [{"id": "ober_test", "result": "positive"}]})
        for _ in range(4000)) + "\n")
    process = subprocess.Popen([sys.executable, "-m", "compensa", "batch", str(cases), "-o", str(tmp_path / "out.jsonl"),
                                "--jobs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".compensa-*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # well into the run
        assert process.poll() is None, "the batch finished before it could be stopped"
        if signum == "SIGINT":
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode != 0
    assert "Traceback" not in err.decode(), err.decode()[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.jsonl"]


def test_the_not_used_card_lists_a_bounded_number_of_rows(insecure):
    """A 1 MiB prefetch of 3000 unusable resources made a 500 KB card."""
    unknown = [observation(f"u{i}", {"system": "http://ehr.example.org/local", "code": str(i)}, valueBoolean=True)
               for i in range(200)]
    cards = cards_of(insecure, with_observations(*unknown))
    (card,) = [c for c in cards if topic(c) == "not-used"]
    assert "more" in card["detail"] and len(card["detail"]) < 20_000
    assert card["summary"].startswith("Not used by compensa: 20")  # the count is still the whole count


@pytest.mark.parametrize("birth, age", [("1980", 45), ("1980-12", 45), ("1980-12-31", 45), ("1980-11", 46),
                                        ("1980-13", None), ("2999", None), ("0000", None)])
def test_a_partial_birth_date_gives_the_youngest_age_it_allows(birth, age):
    """A year or year-month was read as born on the 28th: a person born on 1980-12-31 was a year older
    on 30 December than they can be."""
    import datetime

    from compensa.app.fhir_case import _age

    assert _age(birth, datetime.date(2026, 12, 30)) == age


def test_an_entered_in_error_questionnaire_response_is_refused_not_consulted_as_empty(insecure):
    """Posted to /v1/consult it became an empty case, reported as self-care."""
    body = qr({"linkId": "red_flags", "item": [{"linkId": "bowel_dysfunction", "answer": [answer("yes")]}]})
    body["status"] = "entered-in-error"
    response = insecure.post("/v1/consult", json=body)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "status"]


def test_an_old_invalid_red_flag_record_does_not_outrank_a_later_valid_no(insecure):
    """A salvaged (invalid) red flag keeps its own date when it is readable."""
    old = observation("b1", BOWEL, when="2020-01-01T09:00:00Z", valueBoolean=True)
    old.pop("status")
    new = observation("b2", BOWEL, when="2026-12-01T09:00:00Z", valueBoolean=False)
    assert_plan(cards_of(insecure, with_observations(old, new)))


def test_cds_testing_mode_off_loopback_needs_insecure_no_auth():
    """COMPENSA_CDS_INSECURE_NO_JWT on 0.0.0.0 with API keys left the CDS routes -- a consultation --
    open to anyone: they take no API key (the EHR's JWT stands in for one)."""
    from compensa.app.settings import load_settings
    from compensa.errors import UsageError

    with pytest.raises(UsageError, match="insecure-no-auth"):
        load_settings(host="0.0.0.0", cds_insecure_no_jwt=True, api_keys=[KEY])
    assert load_settings(host="0.0.0.0", cds_insecure_no_jwt=True, insecure_no_auth=True).cds_insecure_no_jwt
    assert load_settings(host="127.0.0.1", cds_insecure_no_jwt=True).cds_insecure_no_jwt
