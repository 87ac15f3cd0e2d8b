"""A tiny, valid knowledge base used by the lint tests (each test breaks one thing in it)."""

from __future__ import annotations

from pathlib import Path

FILES = {
    "kb.yaml": """\
kb:
  name: mini
  version: 0.0.1
  regions: [hip, knee]
""",
    "sources.yaml": """\
sources:
  - id: src
    citation: A source.
    url: https://example.org
    kind: review
""",
    "muscles.yaml": """\
muscles:
  - id: glute
    label: Glute
    region: hip
    sites: [hip_site]
    action: Moves the hip.
    tendency: weak
    opposes: [tfl]
    source: src
  - id: tfl
    label: TFL
    region: hip
    sites: [hip_site]
    action: Tenses the band.
    tendency: tight
    source: src
""",
    "interventions.yaml": """\
interventions:
  - id: strengthen_glute
    muscle: glute
    action: strengthen
    label: Bridge
    how: Lift the hips.
    source: src
  - id: stretch_tfl
    muscle: tfl
    action: stretch
    label: TFL stretch
    how: Cross and lean.
    source: src
""",
    "pain_sites.yaml": """\
pain_sites:
  - id: knee_site
    label: Knee
    region: knee
  - id: hip_site
    label: Hip
    region: hip
""",
    "roots.yaml": """\
roots:
  - id: hip_weakness
    label: Hip weakness
    sided: true
    tight: [tfl]
    weak: [glute]
    member_strength: 0.5
    evidence: M
    summary: Weak glute, tight TFL.
    source: src
""",
    "dysfunctions.yaml": """\
dysfunctions:
  - id: valgus
    label: Valgus
    region: knee
    sided: true
    summary: Knee caves in.
    source: src
""",
    "conditions.yaml": """\
conditions:
  - id: knee_pain
    label: Knee pain
    sided: true
    summary: Hurts.
    source: src
    sites:
      - {site: knee_site, strength: 0.6, evidence: M}
""",
    "links.yaml": """\
links:
  - from: hip_weakness
    to: valgus
    strength: 0.6
    evidence: H
    mechanism: Weak glute lets the knee cave in.
    source: src
  - from: valgus
    to: knee_pain
    strength: 0.5
    evidence: M
    mechanism: A caving knee loads the joint.
    source: src
""",
    "assessments.yaml": """\
assessments:
  - id: valgus
    label: Valgus seen
    kind: finding
    region: knee
    sided: true
    how: Look.
    reading: Knee in.
    source: src
    on_present:
      - {node: valgus, strength: 0.5, evidence: M}
  - id: glute_test
    label: Glute test
    kind: test
    region: hip
    sided: true
    how: Push.
    reading: Weak.
    source: src
    on_positive:
      - {muscle: glute, state: weak, strength: 0.6, evidence: M}
    on_negative:
      - {muscle: glute, state: weak, strength: -0.3, evidence: M}
""",
    "history.yaml": """\
history:
  - id: runner
    label: Runner
    on_present:
      - {node: knee_pain, strength: 0.2, evidence: M}
    source: src
""",
    "red_flags.yaml": """\
red_flags:
  - id: fever
    label: Fever
    question: Any fever?
    category: infection
    level: urgent
    advice: See a doctor today.
    source: src
""",
}


def write_kb(folder: Path, changes: dict[str, tuple[str, str]] | None = None, extra: dict[str, str] | None = None) -> Path:
    """Write the minimal KB into ``folder``; ``changes`` maps file -> (old text, new text)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        if changes and name in changes:
            old, new = changes[name]
            assert old in text, f"{old!r} not in {name}"
            text = text.replace(old, new, 1)
        (folder / name).write_text(text, encoding="utf-8")
    for name, text in (extra or {}).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
