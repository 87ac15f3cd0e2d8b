"""``compensa eval``: run the case library, show the scores a KB author reads, draw a reliability plot."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from compensa.errors import OutputError, UsageError

__all__ = ["eval_text", "plot_reliability", "run_evaluation"]


def _why_not(vocabulary):
    from compensa.visualize import explain as explaining

    def explain(report, root_id: str) -> str:
        return explaining.to_text(explaining.why_not(report, root_id, vocabulary))

    return explain


def run_evaluation(kb_path: str | None, folder: str | None, show_progress: bool = False):
    """Score the KB (bundled unless ``kb_path``) on ``folder`` (bundled library by default)."""
    from compensa.engine import consultant_for, load_kb
    from compensa.engine.evaluate import evaluate

    kb = load_kb(kb_path) if kb_path else load_kb()
    explain = _why_not(consultant_for(kb).vocabulary)
    if not show_progress:
        return evaluate(folder, kb, explain=explain)
    bar: Any
    with click.progressbar(length=1, label="consulting cases", file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(1)

        return evaluate(folder, kb, progress=progress, explain=explain)


def _line(name: str, value, threshold) -> str:
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    bound = f"   (threshold {threshold})" if threshold is not None else ""
    return f"  {name:<18}{shown:>7}{bound}"


def eval_text(scores, verbose: bool = False) -> str:
    """The scores as a table: headline figures, by region, then each failure with what differed."""
    t = scores.thresholds
    brier = scores.calibration.get("brier")
    lines = [f"compensa eval: {scores.cases} cases", "",
             _line("top-1 root", scores.top1, t.get("top1")), _line("top-3 roots", scores.top3, t.get("top3")),
             _line("triage accuracy", scores.triage_accuracy, t.get("triage_accuracy")),
             _line("red-flag recall", scores.red_flag_recall, t.get("red_flag_recall")),
             _line("target recall", scores.target_recall, t.get("target_recall")),
             _line("harmful targets", scores.harmful_targets, t.get("harmful_targets")),
             f"  {'calibration':<18}" + (f"Brier {brier:.3f} over {scores.calibration['cases']} cases"
                                         if brier is not None else "no case with an expected root"),
             "", f"  {'region':<16}{'cases':>6}{'top-3':>8}{'triage':>8}{'harmful':>9}"]
    for region, row in scores.by_region.items():
        lines.append(f"  {region:<16}{row['cases']:>6}{row['top3']:>8.2f}{row['triage_accuracy']:>8.2f}"
                     f"{row['harmful_targets']:>9}")
    if scores.failures:
        lines += ["", f"FAILURES ({len(scores.failures)})"]
        for failure in scores.failures:
            lines.append(f"  {failure['case']} [{failure['region']}]: " + "; ".join(failure["differs"]))
            if verbose and failure["explanation"]:
                lines += ["      " + line for line in failure["explanation"].splitlines()]
    lines += ["", "PASSED: every threshold met" if scores.passed else "BELOW THRESHOLD: " + "; ".join(scores.below)]
    return "\n".join(lines) + "\n"


def plot_reliability(scores, path: str) -> Path:
    """Write a reliability diagram (mean confidence vs fraction correct per bin) as PNG."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise UsageError(f"--plot {path!r} must end in .png")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'compensa[plot]'") from None
    bins = scores.calibration.get("bins", [])
    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    axes.plot([0, 1], [0, 1], linestyle="--", color="#868e96", label="perfect calibration")
    if bins:
        axes.plot([b["mean_confidence"] for b in bins], [b["correct"] for b in bins], marker="o", color="#1c7ed6",
                  label="compensa (top root)")
        for b in bins:
            axes.annotate(str(b["cases"]), (b["mean_confidence"], b["correct"]), textcoords="offset points",
                          xytext=(4, 4), fontsize=8)
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence of the top root", ylabel="fraction correct",
             title=f"Reliability on {scores.cases} library cases (Brier {scores.calibration.get('brier')})")
    axes.legend(loc="upper left")
    try:
        figure.savefig(target, format="png", bbox_inches="tight")
    except OSError as exc:
        raise OutputError(f"could not write {target}: {exc.strerror or exc}") from None
    finally:
        plt.close(figure)
    return target
