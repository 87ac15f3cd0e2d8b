"""``compensa.engine.batch``: one answer per JSON Lines line, in order, on every engine.

The Dask test starts a small LocalCluster (2 single-thread worker processes) and takes about ten
seconds on two busy cores; the Ray test runs only where Ray is installed (the ``ray`` extra, see
``make test-ray``).
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest

from compensa.engine import Consultant, consult, load_kb
from compensa.engine.batch import (BatchSummary, BatchWorker, Item, LineResult, check_engine, consult_line,
                                   count_lines, read_lines, run_batch, write_results)
from compensa.engine.evaluate import read_library
from compensa.errors import UsageError
from compensa.kb.paths import BUNDLED_CASES

MIXED = Path(__file__).resolve().parents[1] / "data" / "batch" / "mixed.jsonl"
KB = load_kb()


@pytest.fixture(scope="module")
def library() -> list[dict]:
    """The cases of the bundled library, as batch lines would hold them."""
    return [c.case for c in read_library(BUNDLED_CASES)[0]]


@pytest.fixture(scope="module")
def consultant() -> Consultant:
    return Consultant(KB, max_engines=1)


def _items(cases: list[dict]) -> list[Item]:
    return list(read_lines(io.BytesIO("".join(json.dumps(c) + "\n" for c in cases).encode())))


def _records(results) -> list[dict]:
    return [json.loads(r.json) for r in results]


def _mixed() -> list[dict]:
    with MIXED.open("rb") as handle:
        return _records(run_batch(read_lines(handle), BatchWorker(KB), jobs=1))


# --- reading ------------------------------------------------------------------------------------

def test_lines_are_numbered_streamed_and_bounded():
    data = b'{"a": 1}\r\n\n' + b"x" * 50 + b"\nlast"
    items = list(read_lines(io.BytesIO(data), max_bytes=20))
    assert [(i.line, i.raw, i.too_long) for i in items] == [
        (1, b'{"a": 1}', False), (2, b"", False), (3, b"", True), (4, b"last", False)]
    assert list(read_lines(io.BytesIO(b"one\ntwo\n"))) == [Item(1, b"one"), Item(2, b"two")]  # no line after the last newline
    assert list(read_lines(io.BytesIO(b"\xef\xbb\xbf{}\n"))) == [Item(1, b"{}")]  # a byte-order mark is dropped


def test_count_lines_matches_read_lines(tmp_path):
    for text in (b"", b"a\n", b"a\nb", b"a\n\nb\n"):
        path = tmp_path / "f.jsonl"
        path.write_bytes(text)
        assert count_lines(str(path)) == len(list(read_lines(io.BytesIO(text))))


# --- one line -----------------------------------------------------------------------------------

def test_every_kind_of_line_gets_its_answer():
    records = _mixed()
    assert [r["line"] for r in records] == list(range(1, 10))
    assert [("report" in r) for r in records] == [True, True, False, True, False, False, False, False, True]
    by_line = {r["line"]: r for r in records}
    assert by_line[1]["report"]["targets"] and not by_line[1]["report"]["plan_withheld"]
    assert by_line[2]["report"]["unrecognised"] == [{"term": "ober_tst", "where": "tests[0].id",
                                                      "suggestions": ["ober_test"]}]
    assert "blank line" in by_line[3]["errors"][0]["msg"]
    assert by_line[5]["errors"][0]["msg"].startswith("not valid JSON: ")
    assert by_line[6]["errors"] == [{"loc": ["case", "pain"], "msg": "must be a list", "input": 5, "suggestions": []}]
    assert "appears twice" in by_line[7]["errors"][0]["msg"]
    assert by_line[8]["errors"] == [{"loc": ["case", "tests", 0, "id"], "msg": "unknown test 'ober_tst'",
                                     "input": "ober_tst", "suggestions": ["ober_test"]}]


def test_red_flag_in_a_batch_line_withholds_the_plan():
    by_line = {r["line"]: r for r in _mixed()}
    for line in (4, 9):  # present, then unsure: both stop the exercise plan
        report = by_line[line]["report"]
        assert report["plan_withheld"] and report["targets"] == [] and report["triage"]["level"] == "emergency"


def test_red_flag_library_cases_withhold_the_plan_in_a_batch(library):
    flagged = [c for c in library if any(f.get("present") in (True, "unsure") for f in c.get("red_flags", ())
                                         if isinstance(f, dict))]
    assert len(flagged) >= 5
    summary = BatchSummary()
    for result in run_batch(_items(flagged), BatchWorker(KB), jobs=1):
        summary.add(result)
        report = json.loads(result.json)["report"]
        assert report["plan_withheld"] == bool(report["triage"]["red_flags"] or report["triage"]["clusters"]
                                               or report["triage"]["unmatched"])
        if report["triage"]["red_flags"]:
            assert result.withheld and report["targets"] == []
    assert summary.withheld >= 5 and summary.errors == 0


def test_strict_option_refuses_unknown_terms(consultant):
    record = consult_line(consultant, 7, '{"pain": ["lateral_knee"], "tests": ["ober_tst:positive"]}', strict=True)
    assert record["line"] == 7 and record["errors"][0]["suggestions"] == ["ober_test"]


def test_text_that_is_not_utf8_or_json_is_an_error_line(consultant):
    assert "UTF-8" in consult_line(consultant, 1, b"\xff\xfe{}")["errors"][0]["msg"]
    assert "NaN" in consult_line(consultant, 2, '{"age": NaN}')["errors"][0]["msg"]
    assert "deeper" in consult_line(consultant, 3, "[" * 40 + "]" * 40)["errors"][0]["msg"]
    assert "a case must be a mapping" in consult_line(consultant, 4, "[1, 2]")["errors"][0]["msg"]


def test_line_too_long_is_an_error_line():
    result = BatchWorker(KB)(Item(3, b"", True))
    assert result.triage is None and "longer than" in json.loads(result.json)["errors"][0]["msg"]


def test_an_unexpected_failure_is_a_failed_line_not_a_crash(monkeypatch):
    worker = BatchWorker(KB)

    def broken(case, strict=False):
        raise RuntimeError("boom")

    monkeypatch.setattr(worker.consultant, "consult", broken)
    results = worker.run_chunk([Item(1, b"{}"), Item(2, b"not json")])
    assert results[0].failed and "internal error (RuntimeError)" in results[0].json and "boom" not in results[0].json
    assert not results[1].failed and results[1].triage is None  # the next line still answered


# --- the same report as a single consultation ----------------------------------------------------

def test_batch_reports_equal_single_consultations(library):
    cases = library[::11][:20]
    results = list(run_batch(_items(cases), BatchWorker(KB), jobs=1))
    for case, result in zip(cases, results):
        # the CLI's consultant compiles per case (scope="case"): the report must not depend on it
        single = Consultant(KB, max_engines=1, scope="case").consult(case).to_dict()
        assert json.loads(result.json)["report"] == single
        assert json.loads(result.json)["report"] == consult(case).to_dict()


def test_no_timing_field_in_reports(library):
    report = json.loads(BatchWorker(KB)(_items(library[:1])[0]).json)["report"]
    assert set(report["engine"]) == {"rules_fired", "halted", "supports"}  # counts only: reruns compare equal


# --- engines ------------------------------------------------------------------------------------

def test_worker_pickles_without_its_consultant():
    worker = BatchWorker(KB, strict=True)
    worker.consultant  # noqa: B018 - built: holds locks and compiled engines, which do not pickle
    copy = pickle.loads(pickle.dumps(worker))
    assert copy._consultant is None and copy.strict and copy.kb.version_string == KB.version_string
    assert copy(Item(1, b'{"pain": ["lower_back"]}')).triage is not None


def test_local_pool_keeps_input_order(library):
    items = _items(library[:9])
    with MIXED.open("rb") as handle:
        items += [Item(i.line + 9, i.raw, i.too_long) for i in read_lines(handle)]
    serial = list(run_batch(items, BatchWorker(KB), jobs=1))
    pooled = list(run_batch(items, BatchWorker(KB), jobs=2, chunk=3))
    assert [r.line for r in pooled] == list(range(1, len(items) + 1))
    assert pooled == serial


def test_input_is_streamed_not_loaded(library):
    """Only a bounded window of chunks is read ahead of the answers (memory stays flat on big files)."""
    pulled = []
    lines = _items(library[:2]) * 40

    def source():
        for n, item in enumerate(lines, 1):
            pulled.append(n)
            yield Item(n, item.raw)

    results = run_batch(source(), BatchWorker(KB), jobs=2, chunk=2)
    first = next(results)
    assert first.line == 1 and len(pulled) <= (2 * 2 + 1) * 2 + 2
    assert [next(results).line for _ in range(3)] == [2, 3, 4]
    results.close()  # stopping early shuts the pool down
    assert len(pulled) < len(lines)


def test_summary_counts():
    summary = BatchSummary()
    for result in (LineResult(1, "{}", "routine", False), LineResult(2, "{}", "emergency", True),
                   LineResult(3, "{}"), LineResult(4, "{}", failed=True)):
        summary.add(result)
    data = summary.finish().to_dict()
    assert {k: data[k] for k in ("lines", "reports", "errors", "failed", "plan_withheld")} == {
        "lines": 4, "reports": 2, "errors": 2, "failed": 1, "plan_withheld": 1}
    assert list(data["triage"]) == ["emergency", "routine"]
    assert "4 lines: 2 reports, 2 errors" in summary.text() and "cases/s" in summary.text()


def test_write_results_writes_one_line_each():
    out = io.BytesIO()
    ticks = []
    write_results(iter([LineResult(1, '{"line":1}'), LineResult(2, '{"line":2}')]), out, BatchSummary(), ticks.append)
    assert out.getvalue() == b'{"line":1}\n{"line":2}\n' and ticks == [1, 1]


def test_engine_checks():
    with pytest.raises(UsageError, match="unknown batch engine"):
        check_engine("spark")
    with pytest.raises(UsageError, match="--address"):
        run_batch([], BatchWorker(KB), engine="local", address="tcp://127.0.0.1:1")


def test_missing_extra_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("ray", "distributed")
                        else real(name, *a))
    with pytest.raises(UsageError, match=r"compensa\[ray\]"):
        check_engine("ray")
    with pytest.raises(UsageError, match=r"compensa\[scale\]"):
        check_engine("dask")


def test_dask_engine_on_a_local_cluster(library):
    distributed = pytest.importorskip("distributed")
    items = _items(library[:12])
    expected = list(run_batch(items, BatchWorker(KB), jobs=1))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        results = list(run_batch(items, BatchWorker(KB), engine="dask", chunk=3, address=cluster.scheduler_address))
    assert results == expected


def test_ray_engine():
    pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    with MIXED.open("rb") as handle:
        items = list(read_lines(handle))
    expected = list(run_batch(items, BatchWorker(KB), jobs=1))
    assert list(run_batch(items, BatchWorker(KB), engine="ray", jobs=2, chunk=2)) == expected
