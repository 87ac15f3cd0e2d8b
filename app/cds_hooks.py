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
from compensa.jsontext import json_line

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


def _bearer_token(authorization: str | None) -> str:
    """The JWT in an ``Authorization: Bearer <JWT>`` header (JWTRejected when there is none)."""
    if not authorization:
        raise JWTRejected("this CDS service needs a JWT signed by a trusted EHR in 'Authorization: Bearer <JWT>'; "
                          "none was sent")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise JWTRejected("the Authorization header must be 'Bearer <JWT>'")
    return token


def _unverified_parts(token: str) -> tuple[dict, dict]:
    """The header and the claims of ``token``, its signature not checked yet."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise JWTRejected(f"the bearer token is not a JWT: {exc}") from None
    return header, unverified


def _trusted_jwks_url(header: dict, unverified: dict, trusted: dict[str, str]) -> tuple[str, str, str]:
    """The algorithm, the issuer and the issuer's JWKS URL, once the header and issuer are acceptable."""
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
    return alg, issuer, jwks_url


def _signing_key(token: str, header: dict, issuer: str, jwks_url: str):
    """The issuer's key that signed ``token``, from its JWKS (a JWKS that just failed is not retried yet)."""
    import jwt

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
    return key


def _check_key_family(alg: str, key, kid: object) -> None:
    """Refuse a key whose type is not the one ``alg`` needs (EC for ES*, RSA for RS* and PS*)."""
    family = {"ES": "EC", "RS": "RSA", "PS": "RSA"}[alg[:2]]
    if key.key_type != family:
        # PyJWT raises TypeError (not a PyJWTError) when alg and key type differ: refused here, by name
        raise JWTRejected(f"the JWT algorithm {alg} needs an {family} key, but key {kid!r} is "
                          f"{key.key_type}")


def _verified_claims(token: str, key, alg: str, audiences: list[str], issuer: str) -> dict:
    """The claims of ``token``, its signature, audience, issuer, times and required claims checked."""
    import jwt

    try:
        return jwt.decode(token, key.key, algorithms=[alg], audience=audiences, issuer=issuer, leeway=_LEEWAY,
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


def _accept_jti_once(issuer: str, claims: dict) -> None:
    """Record the token's ``jti`` until it expires; refuse one already seen (a replay)."""
    now = time.time()
    with _jwt_lock:
        for old in [j for j, until in _seen_jti.items() if until < now]:
            del _seen_jti[old]
        key_id = f"{issuer}\x00{claims['jti']}"
        if key_id in _seen_jti:
            raise JWTRejected("this JWT (its jti) was already used: sign a new one for every request")
        _seen_jti[key_id] = float(claims["exp"]) + _LEEWAY


def verify_jwt(authorization: str | None, audience: str | list[str], trusted: dict[str, str]) -> dict:
    """The verified claims of the EHR's JWT in an ``Authorization`` header; JWTRejected says why not.

    ``audience``: the endpoint's URL (or URLs: any one may be the token's ``aud``); ``trusted``:
    issuer -> JWKS URL."""
    audiences = [audience] if isinstance(audience, str) else list(audience)
    token = _bearer_token(authorization)
    header, unverified = _unverified_parts(token)
    alg, issuer, jwks_url = _trusted_jwks_url(header, unverified, trusted)
    key = _signing_key(token, header, issuer, jwks_url)
    _check_key_family(alg, key, header.get("kid"))
    claims = _verified_claims(token, key, alg, audiences, issuer)
    _accept_jti_once(issuer, claims)
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


_RED_FLAGS_TOPIC = ("red-flags", "Red-flag screening")


@dataclass
class _Screened:
    """A triage's red flags sorted by level, and the advice lines the first warning card carries."""

    level: str
    emergency: list[str]
    urgent: list[str]
    unmatched: list[str]
    advice: str
    plan_line: str


def _screened(report: dict, kb) -> _Screened:
    """The red flags of ``report``'s triage by level (a flag also in ``unsure`` is counted once)."""
    triage = report["triage"]
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
    return _Screened(triage["level"], emergency, urgent, unmatched, advice, plan_line)


def _emergency_card(make: _Cards, seen: _Screened, kb) -> dict:
    """The critical card: an emergency red flag (the other red flags listed with it)."""
    others = seen.urgent + seen.unmatched
    return make.card(
        "critical", f"Emergency red flag: {_labels(kb, seen.emergency) or 'see details'}. Seek emergency care now.",
        [f"**Red flags (emergency):** {_md(_labels(kb, seen.emergency))}" if seen.emergency else "",
         f"**Also:** {_md(_labels(kb, others))}" if others else "", seen.advice, seen.plan_line],
        _RED_FLAGS_TOPIC)


def _urgent_card(make: _Cards, seen: _Screened, kb) -> dict:
    """The warning card for urgent red flags and red-flag answers compensa did not recognise."""
    words = _labels(kb, seen.urgent + seen.unmatched) or "a red-flag cluster"
    return make.card(
        "warning", f"Urgent red flag: {words}. Arrange a prompt medical assessment.",
        [f"**Red flags (urgent):** {_md(_labels(kb, seen.urgent))}" if seen.urgent else "",
         f"**Red-flag answers not recognised (count as urgent):** {_md(', '.join(seen.unmatched))}"
         if seen.unmatched else "",
         seen.advice, seen.plan_line], _RED_FLAGS_TOPIC)


def _cluster_card(make: _Cards, seen: _Screened, clusters: list) -> dict:
    """The warning card for a red-flag cluster met when no single red flag made a card."""
    return make.card("warning", "Red-flag cluster met: arrange a prompt medical assessment.",
                     [f"**Clusters:** {_md(', '.join(map(str, clusters)))}", seen.advice, seen.plan_line],
                     _RED_FLAGS_TOPIC)


def _red_flag_card(make: _Cards, report: dict, seen: _Screened, kb) -> dict | None:
    """The one red-flag card, most severe first: emergency, urgent (or unmatched), cluster; or None."""
    if seen.level == "emergency" or seen.emergency:
        return _emergency_card(make, seen, kb)
    if seen.urgent or seen.unmatched or seen.level == "urgent":
        return _urgent_card(make, seen, kb)
    clusters = report["triage"].get("clusters") or []
    if clusters:
        return _cluster_card(make, seen, clusters)
    return None


def _medical_review_card(make: _Cards, report: dict, seen: _Screened, kb, after_red_flag: bool) -> dict | None:
    """The warning card for conditions that need a medical review (advice repeated only when it is the first)."""
    review = report["triage"].get("medical_review") or []
    if not review:
        return None
    labels = ", ".join(kb.conditions[c].label if c in kb.conditions else c for c in review)
    return make.card("warning", f"Medical review advised: {labels}.",
                     [f"**Conditions that need a medical assessment:** {_md(labels)}",
                      "" if after_red_flag else seen.advice,  # said on the red-flag card
                      "" if after_red_flag else seen.plan_line],
                     ("medical-review", "Medical review"))


def _withheld_card(make: _Cards, seen: _Screened) -> dict:
    """The warning card for an exercise plan withheld when no other warning card says so."""
    return make.card("warning", "Exercise plan withheld: see the details before any exercise.",
                     [seen.advice, seen.plan_line], ("plan", "Exercise plan"))


def cards_for(report: dict, kb, base: str, not_used: list[dict], notes: list[str]) -> list[dict]:
    """The cards of a consultation report (see the module docstring)."""
    make = _Cards(report, base, case_link(base, report["case"]))
    seen = _screened(report, kb)
    withheld = bool(report.get("plan_withheld"))
    cards: list[dict] = []
    red_flag = _red_flag_card(make, report, seen, kb)
    if red_flag:
        cards.append(red_flag)
    review = _medical_review_card(make, report, seen, kb, after_red_flag=bool(cards))
    if review:
        cards.append(review)
    if withheld and not cards:
        cards.append(_withheld_card(make, seen))
    plan = None if withheld else _plan_card(make, report, kb)
    if plan:
        cards.append(plan)
    unused = _not_used_card(make, report, not_used, notes)
    if unused:
        cards.append(unused)
    return cards


def _no_root_card(make: _Cards, report: dict) -> dict | None:
    """The info card for pain with no likely root cause (None when no pain was recorded)."""
    if not report["case"].get("pain"):
        return None
    return make.card("info", "compensa found no likely muscle-imbalance pattern for the recorded pain.",
                     [_screening(report), _next(report)], ("root-cause", "Likely root cause"))


def _plan_summary(top: dict, shown: list[dict]) -> str:
    """The plan card's summary: the top root cause and the first two targets."""
    side = f" ({top['side']})" if top.get("side") else ""
    summary = f"Likely root: {top['label']}{side}, {top['confidence']:.2f} {top['status']}"
    if shown:
        summary += "; " + ", ".join(f"{t['action']} {t['label'].lower()}" for t in shown[:2])
    return summary


def _roots_table(roots: list[dict]) -> str:
    """The top three root causes as a Markdown table."""
    lines = ["**Likely root causes**", "| root | side | confidence | status |", "|---|---|---|---|"]
    lines += [f"| {_md(r['label'])} | {r.get('side') or '-'} | {r['confidence']:.2f} | {r['status']} |"
              for r in roots[:3]]
    return "\n".join(lines)


def _target_row(target: dict) -> str:
    """One target as a Markdown list item: action, muscle, side, where it is and why."""
    side = f" ({target['side']})" if target.get("side") else ""
    where = " — where it hurts" if target.get("painful") else " — away from the pain"
    return (f"- **{target['action'].capitalize()} {_md(target['label'].lower())}**" + side + where
            + f": {_md(target.get('because', ''))}")


def _plan_extras(report: dict, kb) -> list[str]:
    """The plan card's closing paragraphs: what to assess next, review signs and caveats."""
    extras = [_next(report)]
    review = report["triage"].get("review") or []
    if review:
        extras.append(f"**Review signs (monitor and re-screen):** {_md(_labels(kb, review))}")
    cautions = [w for w in report.get("warnings") or [] if w.get("code") != "not_screened"]
    if cautions:
        extras.append("**Caveats**\n" + "\n".join(f"- {_md(w['message'])}" for w in cautions[:5]))
    return extras


def _plan_card(make: _Cards, report: dict, kb) -> dict | None:
    """The info card with the likely root causes and the targets, away from the pain first."""
    roots = report.get("root_causes") or []
    if not roots:
        return _no_root_card(make, report)
    targets = [t for t in report.get("targets") or [] if not t.get("withheld")]
    away = [t for t in targets if not t.get("painful")]
    shown = (away or targets)[:4]
    detail = [_screening(report), _roots_table(roots)]
    if shown:
        detail.append("**Targets (away from the pain first)**\n" + "\n".join(_target_row(t) for t in shown))
    detail += _plan_extras(report, kb)
    return make.card("info", _plan_summary(roots[0], shown), detail, ("root-cause", "Likely root cause and plan"))


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


_FEEDBACK_FIELDS = {"card", "outcome", "acceptedSuggestions", "overrideReason", "outcomeTimestamp"}


def _accepted_ok(accepted: object) -> bool:
    """Whether ``acceptedSuggestions`` is absent or ``[{id: string}, ...]``."""
    return accepted is None or (isinstance(accepted, list) and all(
        isinstance(a, dict) and isinstance(a.get("id"), str) for a in accepted))


def _override_ok(reason: object) -> bool:
    """Whether ``overrideReason`` is absent or ``{reason?: Coding, userComment?: string}``."""
    return reason is None or (
        isinstance(reason, dict) and set(reason) <= {"reason", "userComment"}
        and isinstance(reason.get("reason", {}), dict) and isinstance(reason.get("userComment", ""), str))


def _timestamp_ok(stamp: object) -> bool:
    """Whether ``outcomeTimestamp`` is an ISO 8601 date-time string."""
    import datetime

    try:
        if not isinstance(stamp, str):
            raise ValueError
        datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _entry_problems(entry: object, where: str) -> list[Problem]:
    """What is wrong with one feedback entry, in field order (empty when it is well formed)."""
    if not isinstance(entry, dict):
        return [Problem("each feedback entry is an object", where)]
    problems = [Problem(f"unknown field {key!r}", f"{where}.{key}", key) for key in set(entry) - _FEEDBACK_FIELDS]
    if not isinstance(entry.get("card"), str) or not entry["card"]:
        problems.append(Problem("card (the card's uuid) is required", f"{where}.card", entry.get("card")))
    if entry.get("outcome") not in ("accepted", "overridden"):
        problems.append(Problem("outcome must be accepted or overridden", f"{where}.outcome", entry.get("outcome")))
    if not _accepted_ok(entry.get("acceptedSuggestions")):
        problems.append(Problem("acceptedSuggestions must be [{id: suggestion uuid}]",
                                f"{where}.acceptedSuggestions"))
    if not _override_ok(entry.get("overrideReason")):
        problems.append(Problem("overrideReason must be {reason?: Coding, userComment?: string}",
                                f"{where}.overrideReason"))
    stamp = entry.get("outcomeTimestamp")
    if not _timestamp_ok(stamp):
        problems.append(Problem("outcomeTimestamp must be an ISO 8601 date-time (e.g. 2026-12-01T10:05:31Z)",
                                f"{where}.outcomeTimestamp", stamp))
    return problems


def check_feedback(body: object) -> list[dict]:
    """The feedback entries of a feedback request, their shape checked (CaseError -> 422)."""
    if not isinstance(body, dict) or set(body) != {"feedback"} or not isinstance(body["feedback"], list):
        raise CaseError(Problem("a feedback request is {\"feedback\": [{card, outcome, outcomeTimestamp, ...}]}",
                                "body"))
    problems: list[Problem] = []
    for i, entry in enumerate(body["feedback"]):
        problems += _entry_problems(entry, f"feedback[{i}]")
    if problems:
        raise CaseError(problems)
    return body["feedback"]


def record_feedback(service_id: str, entries: list[dict], path: Path | None, issuer: str | None) -> None:
    """Append each feedback entry as a JSON line to ``path`` (or keep it in memory when unset)."""
    import datetime

    received = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    lines = [{"received": received, "service": service_id, "issuer": issuer, **entry} for entry in entries]
    # all lines are made before any is written, in one write: text that cannot be UTF-8 (an unpaired
    # surrogate from a \ud800 escape) is written as ASCII escapes, never a 500 after half the entries
    text = "".join(json_line(line) + "\n" for line in lines).encode("utf-8")
    with _feedback_lock:
        if path is None:
            _memory_feedback.extend(lines)
            del _memory_feedback[:-1000]
            log.info("CDS Hooks feedback: %d entries for %s kept in memory (set COMPENSA_CDS_FEEDBACK to keep "
                     "them in a file)", len(lines), service_id)
            return
        with open(path, "ab") as out:
            out.write(text)
