"""``compensa batch CASES.jsonl -o REPORTS.jsonl``: answers in order, exit statuses, atomic output."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from compensa.app import cli as cli_module
from compensa.app import cli_batch
from compensa.app.cli_batch import batch_command
from compensa.engine.evaluate import read_library
from compensa.errors import Problem, problem_json
from compensa.kb.paths import BUNDLED_CASES

MIXED = Path(__file__).resolve().parents[1] / "data" / "batch" / "mixed.jsonl"


def _cli():
    """The real command group (it registers ``batch``)."""
    assert cli_module.cli.commands[batch_command.name] is batch_command
    return cli_module.main


@pytest.fixture(scope="module")
def library_file(tmp_path_factory) -> Path:
    cases = [c.case for c in read_library(BUNDLED_CASES)[0]][::15][:12]
    path = tmp_path_factory.mktemp("batch") / "library.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_batch_keeps_order_with_two_jobs_and_summarises(tmp_path, library_file, capsys):
    source = tmp_path / "cases.jsonl"
    source.write_bytes(library_file.read_bytes() + MIXED.read_bytes())
    out = tmp_path / "reports.jsonl"
    assert _cli()(["batch", str(source), "-o", str(out), "--jobs", "2", "--chunk-size", "2"]) == 0
    records = _lines(out)
    assert [r["line"] for r in records] == list(range(1, 22))
    err = capsys.readouterr().err
    assert "21 lines: 16 reports, 5 errors" in err and "plan withheld:" in err and "cases/s" in err
    assert "emergency" in err and str(out) in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".compensa-")]  # no temporary file left


def test_each_report_is_byte_identical_to_consult(tmp_path, library_file, capsys):
    main = _cli()
    out = tmp_path / "reports.jsonl"
    assert main(["batch", str(library_file), "-o", str(out), "--jobs", "1"]) == 0
    capsys.readouterr()
    for n, (line, record) in enumerate(zip(library_file.read_text().splitlines()[:4], _lines(out)), 1):
        case = tmp_path / f"case{n}.json"
        case.write_text(line, encoding="utf-8")
        assert main(["consult", str(case), "--format", "json"]) == 0
        single = capsys.readouterr().out
        assert json.dumps(record["report"], indent=2, ensure_ascii=False) + "\n" == single


def test_bad_lines_are_error_lines_with_suggestions(tmp_path, capsys):
    out = tmp_path / "reports.jsonl"
    assert _cli()(["batch", str(MIXED), "-o", str(out), "--strict"]) == 0
    records = {r["line"]: r for r in _lines(out)}
    assert records[2]["errors"][0]["suggestions"] == ["ober_test"]  # --strict: the misspelt test refused
    assert records[5]["errors"][0]["msg"].startswith("not valid JSON")
    assert records[4]["report"]["plan_withheld"] and records[9]["report"]["plan_withheld"]
    assert "9 lines: 3 reports, 6 errors" in capsys.readouterr().err


def test_output_to_stdout(library_file, capsys):
    assert _cli()(["batch", str(library_file), "-o", "-", "--jobs", "1", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 12 and "12 lines: 12 reports" in captured.err


def test_input_from_stdin(monkeypatch, capsys):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MIXED.read_bytes())))
    assert _cli()(["batch", "-", "-o", "-", "--jobs", "1"]) == 0
    assert [json.loads(line)["line"] for line in capsys.readouterr().out.splitlines()] == list(range(1, 10))


def test_progress_bar_when_asked(library_file, tmp_path, capsys):
    assert _cli()(["batch", str(library_file), "-o", str(tmp_path / "r.jsonl"), "--jobs", "1", "--progress"]) == 0
    assert "/12 [" in capsys.readouterr().err  # tqdm draws on stderr (the total counted first)


def test_missing_input_names_the_file(tmp_path, capsys):
    assert _cli()(["batch", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "r.jsonl")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err
    assert _cli()(["batch", str(tmp_path), "-o", str(tmp_path / "r.jsonl")]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_bad_usage_exits_2(tmp_path, library_file, capsys):
    main = _cli()
    assert main(["batch", str(library_file), "-o", str(tmp_path / "no" / "r.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["batch", str(library_file), "-o", str(tmp_path)]) == 2
    assert main(["batch", str(library_file), "-o", str(tmp_path / "r.jsonl"), "--address", "tcp://x:1"]) == 2
    assert "--engine dask or ray" in capsys.readouterr().err
    assert main(["batch", str(library_file)]) == 2  # -o is required
    assert main(["batch", str(library_file), "-o", "-", "--jobs", "0"]) == 2


def test_ray_engine_without_ray_says_what_to_install(tmp_path, library_file, capsys):
    try:
        import ray  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("ray is installed")
    assert _cli()(["batch", str(library_file), "-o", str(tmp_path / "r.jsonl"), "--engine", "ray"]) == 2
    assert "pip install 'compensa[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "r.jsonl").exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, library_file, monkeypatch, capsys):
    out = tmp_path / "reports.jsonl"
    out.write_text("old\n")
    from compensa.engine import batch

    def full(results, handle, summary, progress=None):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(batch, "write_results", full)
    assert _cli()(["batch", str(library_file), "-o", str(out), "--jobs", "1"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["reports.jsonl"]


def test_a_device_is_written_in_place_never_replaced(library_file, capsys):
    if not os.path.exists("/dev/full") or not stat.S_ISCHR(os.stat("/dev/full").st_mode):
        pytest.skip("no /dev/full")
    assert _cli()(["batch", str(library_file), "-o", "/dev/full", "--jobs", "1"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # still the device, not a renamed file


def test_an_unexpected_line_failure_exits_1_after_writing(tmp_path, library_file, monkeypatch, capsys):
    from compensa.engine.consult import Consultant

    def broken(self, case, strict=False):
        raise RuntimeError("boom")

    monkeypatch.setattr(Consultant, "consult", broken)
    out = tmp_path / "r.jsonl"
    assert _cli()(["batch", str(library_file), "-o", str(out), "--jobs", "1"]) == 1
    assert len(_lines(out)) == 12 and "failed unexpectedly" in capsys.readouterr().err


def test_error_lines_use_the_service_problem_shape(tmp_path):
    """A bad case gets the same problem records from the service (422) as from a batch error line."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from compensa.app.http import create_app

    case = {"tests": [{"id": "ober_tst", "result": "positive"}], "pain": 5, "strict": True}
    response = TestClient(create_app()).post("/v1/consult", json=case)
    assert response.status_code == 422
    source = tmp_path / "cases.jsonl"
    source.write_text(json.dumps(case) + "\n")
    out = tmp_path / "r.jsonl"
    assert _cli()(["batch", str(source), "-o", str(out), "--jobs", "1"]) == 0
    (line,) = _lines(out)
    assert [{**e, "loc": e["loc"][1:]} for e in line["errors"]] == \
        [{**e, "loc": e["loc"][1:]} for e in response.json()["detail"]]
    assert {e["loc"][0] for e in line["errors"]} == {"case"}
    for problem in (Problem("x", "", "y" * 500), Problem("bad", "a.b[2]", {"k": [float("nan"), b"raw"]})):
        assert problem_json(problem, "case")["loc"][0] == "case"
        json.dumps(problem_json(problem), allow_nan=False)  # always valid JSON to echo back


def test_command_is_a_click_command():
    assert batch_command.name == "batch" and cli_batch.__all__ == ["BatchFailure", "batch_command"]
