"""HL7 CDS Hooks 2.0 for compensa: the discovery document, cards from a report, feedback, JWT checks.

* Discovery (``GET /cds-services``): one service, :data:`SERVICE_ID`, on the ``patient-view`` hook,
  asking for the patient, their Observations, Conditions and QuestionnaireResponses as prefetch.
* A hook call (``POST /cds-services/{id}``) carries ``hook``, ``hookInstance``, ``context``
  (``userId``, ``patientId``, ``encounterId``) and ``prefetch``; the FHIR resources become a case
  (:mod:`compensa.app.fhir_case`), the case is consulted, and the report becomes cards:

  - ``critical``: an emergency red flag (the plan is withheld and the card says so);
  - ``warning``: urgent red flags, unmatched red-flag answers, red-flag clusters, conditions that
    need a medical review, or an exercise plan withheld for another reason;
  - ``info``: the likely root cause (confidence and status) with the targets "away from the pain"
    -- only when the plan is not withheld -- and "Not used by compensa", listing every resource
    (or answer) that could not be used and why.

  Every card has a ``uuid``, a summary under 140 characters, Markdown ``detail`` ending with the
  decision-support disclaimer, ``source`` ``{label: "compensa <kb_version>", url, topic}`` and a
  link to the explanation in the web page (``<public_url>/#case=<base64url(case JSON)>``, type
  ``absolute``; the fragment never reaches a server log).
* Feedback (``POST /cds-services/{id}/feedback``): ``{feedback: [{card, outcome, acceptedSuggestions?,
  overrideReason?, outcomeTimestamp}]}`` is checked and appended as JSON lines to the
  ``cds_feedback`` setting's file (else kept in memory and logged without content).
* Trust: the EHR signs a JWT (``Authorization: Bearer``): ``iss`` must be a key of the
  ``cds_trusted_issuers`` setting, whose value is the JWKS URL the key (``kid``) is fetched from
  with PyJWT's PyJWKClient; a ``jku`` header must name that same URL. ``aud`` must be the endpoint
  called (``<public_url or request base>/cds-services/<id>``), ``exp``, ``iat`` and ``jti`` are
  required, a ``jti`` is accepted once, and only asymmetric algorithms are accepted (ES384 and
  RS384 recommended by the spec). Anything else is a 401 with the reason, unless the
  ``cds_insecure_no_jwt`` setting is on (local testing only).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compensa.errors import CaseError, Problem

__all__ = ["ALGORITHMS", "JWTRejected", "SERVICE_ID", "cards_for", "case_link", "discovery", "record_feedback",
           "verify_jwt", "check_hook_request", "check_feedback"]

log = logging.getLogger("compensa.cds")

SERVICE_ID = "compensa-msk"
#: Asymmetric JWS algorithms accepted (never ``none``, never HMAC: the spec forbids both).
ALGORITHMS = ("ES384", "RS384", "ES256", "ES512", "RS256", "RS512", "PS256", "PS384", "PS512")
TOPIC_SYSTEM = "https://compensa.dev/fhir/CodeSystem/card-topic"
OVERRIDE_SYSTEM = "https://compensa.dev/fhir/CodeSystem/override-reason"
HOOKS = ("patient-view",)
_LEEWAY = 30  # seconds of clock skew allowed on exp / iat


def discovery() -> dict:
    """The CDS Hooks discovery document."""
    return {"services": [{
        "hook": "patient-view", "id": SERVICE_ID, "title": "compensa: musculoskeletal compensation chains",
        "description": "Screens red flags first, then suggests the likely root muscle imbalance behind the "
                       "patient's recorded pain, posture findings and physical tests, and which muscles to stretch "
                       "or strengthen (usually away from the pain). Decision support, not a diagnosis.",
        "prefetch": {
            "patient": "Patient/{{context.patientId}}",
            "observations": "Observation?patient={{context.patientId}}",
            "conditions": "Condition?patient={{context.patientId}}",
            "questionnaireResponses": "QuestionnaireResponse?patient={{context.patientId}}"
                                      "&questionnaire=https://compensa.dev/fhir/Questionnaire/compensa-intake",
        },
        "usageRequirements": "Reads pain (LOINC 72514-3 or 38208-5 with bodySite), red flags, findings and tests "
                             "coded as in GET /v1/kb/vocabulary (SNOMED CT, LOINC, ICD-10, or "
                             "https://compensa.dev/fhir/CodeSystem/kb with the KB id), and answers to "
                             "GET /fhir/Questionnaire/compensa-intake. Does not call the FHIR server.",
    }]}


# ------------------------------------------------------------------------------------------------ JWT

class JWTRejected(Exception):
    """Why a hook request's JWT was refused (becomes a 401)."""


_clients: dict[str, Any] = {}
_jwks_failed: dict[str, float] = {}  # JWKS URL -> when (time.monotonic) fetching it last failed
_JWKS_RETRY = 10.0  # seconds before a JWKS that could not be fetched is tried again
_seen_jti: dict[str, float] = {}
_jwt_lock = threading.Lock()


def _jwk_client(url: str):
    import jwt

    with _jwt_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
        return client


def verify_jwt(authorization: str | None, audience: str | list[str], trusted: dict[str, str]) -> dict:
    """The verified claims of the EHR's JWT in an ``Authorization`` header; JWTRejected says why not.

    ``audience``: the endpoint's URL (or URLs: any one may be the token's ``aud``); ``trusted``:
    issuer -> JWKS URL."""
    import jwt

    audiences = [audience] if isinstance(audience, str) else list(audience)

    if not authorization:
        raise JWTRejected("this CDS service needs a JWT signed by a trusted EHR in 'Authorization: Bearer <JWT>'; "
                          "none was sent")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise JWTRejected("the Authorization header must be 'Bearer <JWT>'")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise JWTRejected(f"the bearer token is not a JWT: {exc}") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise JWTRejected(f"JWT algorithm {alg!r} is not accepted (use an asymmetric one: ES384 or RS384)")
    if not header.get("kid"):
        raise JWTRejected("the JWT header has no 'kid' (the id of the EHR's signing key)")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or issuer not in trusted:
        raise JWTRejected(f"the JWT issuer {issuer!r} is not trusted (trusted issuers are configured with "
                          "COMPENSA_CDS_TRUSTED_ISSUERS)")
    jwks_url = trusted[issuer]
    jku = header.get("jku")
    if jku is not None and jku != jwks_url:
        raise JWTRejected(f"the JWT's jku {jku!r} is not the JWKS URL configured for issuer {issuer!r}")
    failed = _jwks_failed.get(jwks_url)
    if failed is not None and time.monotonic() - failed < _JWKS_RETRY:
        # the JWKS could not be fetched a moment ago: refuse at once rather than make every request wait
        # out the fetch timeout in turn (PyJWKClient fetches under one lock)
        raise JWTRejected(f"the issuer's JWKS could not be fetched just now; retry in {_JWKS_RETRY:.0f} s")
    try:
        key = _jwk_client(jwks_url).get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError as exc:
        _jwks_failed[jwks_url] = time.monotonic()
        log.warning("CDS Hooks: the JWKS of issuer %s could not be fetched from %s: %s", issuer, jwks_url, exc)
        raise JWTRejected(f"the issuer's JWKS could not be fetched ({exc})") from None
    except jwt.PyJWKClientError as exc:
        log.warning("CDS Hooks: no signing key for issuer %s from %s: %s", issuer, jwks_url, exc)
        raise JWTRejected(f"the signing key {header.get('kid')!r} could not be found at the issuer's JWKS "
                          f"({exc})") from None
    _jwks_failed.pop(jwks_url, None)
    family = {"ES": "EC", "RS": "RSA", "PS": "RSA"}[alg[:2]]
    if key.key_type != family:
        # PyJWT raises TypeError (not a PyJWTError) when alg and key type differ: refused here, by name
        raise JWTRejected(f"the JWT algorithm {alg} needs an {family} key, but key {header.get('kid')!r} is "
                          f"{key.key_type}")
    try:
        claims = jwt.decode(token, key.key, algorithms=[alg], audience=audiences, issuer=issuer, leeway=_LEEWAY,
                            options={"require": ["iss", "aud", "exp", "iat", "jti"]})
    except jwt.ExpiredSignatureError:
        raise JWTRejected("the JWT has expired") from None
    except jwt.InvalidAudienceError:
        raise JWTRejected(f"the JWT audience (aud) must be this endpoint's URL, {audiences[0]}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise JWTRejected(f"the JWT lacks the {exc.claim!r} claim (iss, aud, exp, iat and jti are required)") from None
    except jwt.PyJWTError as exc:
        raise JWTRejected(f"the JWT is not valid: {exc}") from None
    except (TypeError, ValueError) as exc:  # a key PyJWT cannot use for this algorithm (curve, size)
        raise JWTRejected(f"the JWT's signing key cannot verify {alg}: {exc}") from None
    now = time.time()
    with _jwt_lock:
        for old in [j for j, until in _seen_jti.items() if until < now]:
            del _seen_jti[old]
        key_id = f"{issuer}\x00{claims['jti']}"
        if key_id in _seen_jti:
            raise JWTRejected("this JWT (its jti) was already used: sign a new one for every request")
        _seen_jti[key_id] = float(claims["exp"]) + _LEEWAY
    return claims


# --------------------------------------------------------------------------------------------- request

def check_hook_request(body: object) -> dict:
    """The hook request, its shape checked (CaseError -> 422 naming the field)."""
    problems: list[Problem] = []
    if not isinstance(body, dict):
        raise CaseError(Problem("a CDS Hooks request is an object {hook, hookInstance, context, prefetch}", "body"))
    if body.get("hook") not in HOOKS:
        problems.append(Problem(f"hook must be one of {', '.join(HOOKS)}", "hook", body.get("hook")))
    instance = body.get("hookInstance")
    if not isinstance(instance, str) or not instance:
        problems.append(Problem("hookInstance must be a UUID string", "hookInstance", instance))
    context = body.get("context")
    if not isinstance(context, dict):
        problems.append(Problem("context must be an object {userId, patientId, encounterId?}", "context", context))
    else:
        for key in ("userId", "patientId"):
            if not isinstance(context.get(key), str) or not context[key]:
                problems.append(Problem(f"context.{key} is required (a string)", f"context.{key}", context.get(key)))
        if "encounterId" in context and not isinstance(context["encounterId"], str):
            problems.append(Problem("context.encounterId must be a string", "context.encounterId",
                                    context["encounterId"]))
    if "prefetch" in body and body["prefetch"] is not None and not isinstance(body["prefetch"], dict):
        problems.append(Problem("prefetch must be an object", "prefetch", type(body["prefetch"]).__name__))
    if "fhirServer" in body and not isinstance(body["fhirServer"], str):
        problems.append(Problem("fhirServer must be a URL", "fhirServer", body["fhirServer"]))
    if body.get("fhirAuthorization") is not None and "fhirServer" not in body:
        problems.append(Problem("fhirServer is required with fhirAuthorization", "fhirServer"))
    if problems:
        raise CaseError(problems)
    return body


# ----------------------------------------------------------------------------------------------- cards

def case_link(base: str, case: dict) -> str:
    """The web page's URL opening ``case``: ``<base>/#case=<base64url of the case JSON, no padding>``."""
    data = json.dumps(case, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return f"{base.rstrip('/')}/#case=" + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _source_label(kb_version: str) -> str:
    """``compensa <kb_version>`` (the KB version string may already start with the name)."""
    return kb_version if kb_version.startswith("compensa ") else f"compensa {kb_version}"


def _summary(text: str) -> str:
    return text if len(text) < 140 else text[:138].rstrip(" ,;:") + "…"


@dataclass
class _Cards:
    report: dict
    base: str
    link: str

    def card(self, indicator: str, summary: str, detail: list[str], topic: tuple[str, str]) -> dict:
        body = "\n\n".join(p for p in detail if p) + f"\n\n---\n*{self.report['disclaimer']}*"
        return {
            "uuid": str(uuid.uuid4()), "summary": _summary(summary), "indicator": indicator, "detail": body,
            "source": {"label": _source_label(self.report["kb_version"]), "url": f"{self.base.rstrip('/')}/kb",
                       "topic": {"system": TOPIC_SYSTEM, "code": topic[0], "display": topic[1]}},
            "links": [{"label": "Open the explanation in compensa", "url": self.link, "type": "absolute"}],
            "overrideReasons": [
                {"system": OVERRIDE_SYSTEM, "code": "already-addressed", "display": "Already assessed or addressed"},
                {"system": OVERRIDE_SYSTEM, "code": "clinical-judgement", "display": "Clinical judgement differs"},
                {"system": OVERRIDE_SYSTEM, "code": "data-wrong", "display": "The recorded data is wrong"}],
        }


def _md(text: object) -> str:
    """Text safe inside Markdown (no HTML, no link or emphasis syntax from data)."""
    out = str(text)
    for char in "\\`*_[]<>#|":
        out = out.replace(char, "\\" + char)
    return out


def _labels(kb, ids: list[str]) -> str:
    return ", ".join(kb.red_flags[i].label if i in kb.red_flags else i for i in ids)


def cards_for(report: dict, kb, base: str, not_used: list[dict], notes: list[str]) -> list[dict]:
    """The cards of a consultation report (see the module docstring)."""
    make = _Cards(report, base, case_link(base, report["case"]))
    triage = report["triage"]
    cards: list[dict] = []
    flags = list(dict.fromkeys(triage.get("red_flags") or []))
    unsure = [i for i in dict.fromkeys(triage.get("unsure") or []) if i not in flags]
    unmatched = list(dict.fromkeys(triage.get("unmatched") or []))
    emergency = [i for i in flags + unsure if i in kb.red_flags and kb.red_flags[i].level == "emergency"]
    urgent = [i for i in flags + unsure if i not in emergency]
    advice = _md(triage.get("advice") or "")
    withheld = bool(report.get("plan_withheld"))
    plan_line = "**The exercise plan is withheld** until a clinician has assessed this." if withheld else ""
    if "withheld" in advice:
        plan_line = ""  # the advice says so already
    if triage["level"] == "emergency" or emergency:
        cards.append(make.card(
            "critical", f"Emergency red flag: {_labels(kb, emergency) or 'see details'}. Seek emergency care now.",
            [f"**Red flags (emergency):** {_md(_labels(kb, emergency))}" if emergency else "",
             f"**Also:** {_md(_labels(kb, urgent + unmatched))}" if urgent or unmatched else "", advice, plan_line],
            ("red-flags", "Red-flag screening")))
    elif urgent or unmatched or triage["level"] == "urgent":
        words = _labels(kb, urgent + unmatched) or "a red-flag cluster"
        cards.append(make.card(
            "warning", f"Urgent red flag: {words}. Arrange a prompt medical assessment.",
            [f"**Red flags (urgent):** {_md(_labels(kb, urgent))}" if urgent else "",
             f"**Red-flag answers not recognised (count as urgent):** {_md(', '.join(unmatched))}" if unmatched else "",
             advice, plan_line], ("red-flags", "Red-flag screening")))
    clusters = triage.get("clusters") or []
    if clusters and not cards:
        cards.append(make.card("warning", "Red-flag cluster met: arrange a prompt medical assessment.",
                               [f"**Clusters:** {_md(', '.join(map(str, clusters)))}", advice, plan_line],
                               ("red-flags", "Red-flag screening")))
    review = triage.get("medical_review") or []
    if review:
        labels = ", ".join(kb.conditions[c].label if c in kb.conditions else c for c in review)
        cards.append(make.card("warning", f"Medical review advised: {labels}.",
                               [f"**Conditions that need a medical assessment:** {_md(labels)}",
                                "" if cards else advice, "" if cards else plan_line],  # said on the red-flag card
                               ("medical-review", "Medical review")))
    if withheld and not cards:
        cards.append(make.card("warning", "Exercise plan withheld: see the details before any exercise.",
                               [advice, plan_line], ("plan", "Exercise plan")))
    if not withheld:
        plan = _plan_card(make, report, kb)
        if plan:
            cards.append(plan)
    unused = _not_used_card(make, report, not_used, notes)
    if unused:
        cards.append(unused)
    return cards


def _plan_card(make: _Cards, report: dict, kb) -> dict | None:
    roots = report.get("root_causes") or []
    targets = [t for t in report.get("targets") or [] if not t.get("withheld")]
    if not roots:
        if not report["case"].get("pain"):
            return None
        return make.card("info", "compensa found no likely muscle-imbalance pattern for the recorded pain.",
                         [_screening(report), _next(report)], ("root-cause", "Likely root cause"))
    top = roots[0]
    side = f" ({top['side']})" if top.get("side") else ""
    away = [t for t in targets if not t.get("painful")]
    shown = (away or targets)[:4]
    summary = f"Likely root: {top['label']}{side}, {top['confidence']:.2f} {top['status']}"
    if shown:
        summary += "; " + ", ".join(f"{t['action']} {t['label'].lower()}" for t in shown[:2])
    lines = ["**Likely root causes**", "| root | side | confidence | status |", "|---|---|---|---|"]
    lines += [f"| {_md(r['label'])} | {r.get('side') or '-'} | {r['confidence']:.2f} | {r['status']} |"
              for r in roots[:3]]
    detail = [_screening(report), "\n".join(lines)]
    if shown:
        rows = [f"- **{t['action'].capitalize()} {_md(t['label'].lower())}**"
                + (f" ({t['side']})" if t.get("side") else "") + (" — where it hurts" if t.get("painful") else
                                                                  " — away from the pain")
                + f": {_md(t.get('because', ''))}" for t in shown]
        detail.append("**Targets (away from the pain first)**\n" + "\n".join(rows))
    detail.append(_next(report))
    review = report["triage"].get("review") or []
    if review:
        detail.append(f"**Review signs (monitor and re-screen):** {_md(_labels(kb, review))}")
    cautions = [w for w in report.get("warnings") or [] if w.get("code") != "not_screened"]
    if cautions:
        detail.append("**Caveats**\n" + "\n".join(f"- {_md(w['message'])}" for w in cautions[:5]))
    return make.card("info", summary, detail, ("root-cause", "Likely root cause and plan"))


def _screening(report: dict) -> str:
    triage = report["triage"]
    if triage.get("screened") == "complete":
        return "Red-flag screening: complete for this pain."
    asks = [a["label"] for a in triage.get("ask") or []][:8]
    text = f"**Red-flag screening: {triage.get('screened')}.** Ask before starting any exercise"
    return text + (": " + _md("; ".join(asks)) if asks else ".")


def _next(report: dict) -> str:
    nexts = report.get("next_assessments") or []
    if not nexts:
        return ""
    return "**Worth assessing next**\n" + "\n".join(f"- {_md(n['label'])}: {_md(n.get('why', ''))}" for n in nexts[:3])


#: The most rows the "Not used" card lists (the rest are counted): a card is read by a person.
_MAX_ROWS = 50


def _not_used_card(make: _Cards, report: dict, not_used: list[dict], notes: list[str]) -> dict | None:
    unrecognised = report.get("unrecognised") or []
    if not not_used and not unrecognised and not notes:
        return None
    rows = [f"- **{_md(n['resource'])}** {_md(n['what'])}: {_md(n['why'])}" for n in not_used]
    rows += [f"- term {_md(u['term'])} ({_md(u['where'])}): not in the knowledge base"
             + (f"; did you mean {_md(', '.join(u['suggestions']))}?" if u.get("suggestions") else "")
             for u in unrecognised]
    if len(rows) > _MAX_ROWS:  # a 1 MiB prefetch of unusable resources made a half-megabyte card
        rows = rows[:_MAX_ROWS] + [f"- … and {len(rows) - _MAX_ROWS} more"]
    notes = notes if len(notes) <= _MAX_ROWS else notes[:_MAX_ROWS] + [f"… and {len(notes) - _MAX_ROWS} more"]
    detail = ["**Not used**\n" + "\n".join(rows) if rows else "", "**Read with care**\n" + "\n".join(
        f"- {_md(n)}" for n in notes) if notes else ""]
    count = len(not_used) + len(unrecognised)
    return make.card("info", f"Not used by compensa: {count} item{'s' if count != 1 else ''} (see why)"
                     if count else "compensa read some values with care (see details)",
                     detail, ("not-used", "Not used by compensa"))


# -------------------------------------------------------------------------------------------- feedback

_memory_feedback: list[dict] = []
_feedback_lock = threading.Lock()


def check_feedback(body: object) -> list[dict]:
    """The feedback entries of a feedback request, their shape checked (CaseError -> 422)."""
    import datetime

    if not isinstance(body, dict) or set(body) != {"feedback"} or not isinstance(body["feedback"], list):
        raise CaseError(Problem("a feedback request is {\"feedback\": [{card, outcome, outcomeTimestamp, ...}]}",
                                "body"))
    problems: list[Problem] = []
    allowed = {"card", "outcome", "acceptedSuggestions", "overrideReason", "outcomeTimestamp"}
    for i, entry in enumerate(body["feedback"]):
        where = f"feedback[{i}]"
        if not isinstance(entry, dict):
            problems.append(Problem("each feedback entry is an object", where))
            continue
        for key in set(entry) - allowed:
            problems.append(Problem(f"unknown field {key!r}", f"{where}.{key}", key))
        if not isinstance(entry.get("card"), str) or not entry["card"]:
            problems.append(Problem("card (the card's uuid) is required", f"{where}.card", entry.get("card")))
        if entry.get("outcome") not in ("accepted", "overridden"):
            problems.append(Problem("outcome must be accepted or overridden", f"{where}.outcome", entry.get("outcome")))
        accepted = entry.get("acceptedSuggestions")
        if accepted is not None and not (isinstance(accepted, list) and all(
                isinstance(a, dict) and isinstance(a.get("id"), str) for a in accepted)):
            problems.append(Problem("acceptedSuggestions must be [{id: suggestion uuid}]",
                                    f"{where}.acceptedSuggestions"))
        reason = entry.get("overrideReason")
        if reason is not None and not (
                isinstance(reason, dict) and set(reason) <= {"reason", "userComment"}
                and isinstance(reason.get("reason", {}), dict) and isinstance(reason.get("userComment", ""), str)):
            problems.append(Problem("overrideReason must be {reason?: Coding, userComment?: string}",
                                    f"{where}.overrideReason"))
        stamp = entry.get("outcomeTimestamp")
        try:
            if not isinstance(stamp, str):
                raise ValueError
            datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            problems.append(Problem("outcomeTimestamp must be an ISO 8601 date-time (e.g. 2026-12-01T10:05:31Z)",
                                    f"{where}.outcomeTimestamp", stamp))
    if problems:
        raise CaseError(problems)
    return body["feedback"]


def _json_line(record: dict) -> str:
    """One JSON line: UTF-8 text where it can be, ASCII escapes when it holds an unpaired surrogate."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record, ensure_ascii=True, separators=(",", ":"))
    return text + "\n"


def record_feedback(service_id: str, entries: list[dict], path: Path | None, issuer: str | None) -> None:
    """Append each feedback entry as a JSON line to ``path`` (or keep it in memory when unset)."""
    import datetime

    received = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    lines = [{"received": received, "service": service_id, "issuer": issuer, **entry} for entry in entries]
    # all lines are made before any is written, in one write: text that cannot be UTF-8 (an unpaired
    # surrogate from a \ud800 escape) is written as ASCII escapes, never a 500 after half the entries
    text = "".join(_json_line(line) for line in lines).encode("utf-8")
    with _feedback_lock:
        if path is None:
            _memory_feedback.extend(lines)
            del _memory_feedback[:-1000]
            log.info("CDS Hooks feedback: %d entries for %s kept in memory (set COMPENSA_CDS_FEEDBACK to keep "
                     "them in a file)", len(lines), service_id)
            return
        with open(path, "ab") as out:
            out.write(text)
