"""The shape every experiment module has, and the objects the runner passes around.

An experiment is a module ``experiments/<name>.py`` (no leading underscore) that defines:

- ``CLAIMS: tuple[str, ...]`` -- claim ids (docs/claims.md) it serves (e.g. ``("C2", "C7")``);
- ``TITLE: str`` -- one line for ``list`` and the README;
- ``Config`` -- a frozen dataclass with classmethods ``quick()`` and ``full()``; it must accept a
  ``seed: int`` field;
- ``run(config) -> dict`` -- pure computation; returns a JSON-able dict of every number a figure
  or a check uses (numpy arrays are converted by the runner);
- ``plot(results, path) -> None`` -- reads only ``results`` (the dict loaded from JSON) and writes
  the figure to ``path`` (a ``.png``; the runner also asks for nothing else);
- ``checks(results) -> list[Check]`` -- turns numbers into ``paper_checks.md`` rows;
- ``STOCHASTIC: bool`` -- whether the results depend on ``seed`` (``run --seeds`` sweeps only
  these; default True);
- optionally ``cases``, ``run_case`` and ``reduce`` -- the grid as independent cases, so the
  runner can spread them over workers (``experiments/_cases.py``); ``run`` is then
  ``run_cases(config, cases, run_case, reduce)``.

A long-running experiment may pass ``checkpoint=checkpoint_path(tag)`` to
``theory.flow.train_flow`` (one tag per training run): under the runner the file lies in the
run's checkpoint folder, so an interrupted run resumes after its last finished block; called
directly (a test, a notebook) ``checkpoint_path`` returns ``None`` and nothing is written.

The runner (``experiments/_runner.py``) discovers such modules automatically, so adding an
experiment never edits a shared registry.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RATIO_SLACK", "Check", "checkpoint_dir", "checkpoint_path", "ratio_check"]

#: Default float round-off allowance of a ``measured/bound <= 1 + slack`` row.
RATIO_SLACK = 1e-9


@dataclass(frozen=True)
class Check:
    """One row of ``paper_checks.md``.

    Attributes:
        claim: claim id, ``"C1"`` .. ``"C19"``.
        inequality: the tested statement, as text (LaTeX-free Unicode is best, e.g.
            ``"W_{n+1} ≤ W_n/(1+γλ)"``).
        grid: the cases covered, as text (e.g. ``"d ∈ {1,2,10,100}, γ ∈ {0.1..5}, 50 steps"``).
        measured: the worst measured value (usually the max of measured/bound).
        threshold: the pass threshold for ``measured`` (e.g. ``1 + 1e-9``).
        passed: whether the check passed.
        key: the results-JSON key holding the evidence (e.g. ``"worst_ratio.C2"``).
        kind: ``"ratio"`` (measured/bound ≤ threshold), ``"equality"`` (|error| ≤ threshold),
            ``"slope"`` (a fitted exponent; ``detail`` says the interval) or ``"info"``
            (a reported number, no pass/fail semantics beyond ``passed``).
        detail: free text shown in the row (sharpness, fitted slope ± CI, caveats).
    """

    claim: str
    inequality: str
    grid: str
    measured: float
    threshold: float
    passed: bool
    key: str
    kind: str = "ratio"
    detail: str = ""
    experiment: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not (self.claim.startswith("C") and self.claim[1:].isdigit()):
            raise ValueError(f"claim must look like 'C7', got {self.claim!r}")
        if self.kind not in {"ratio", "equality", "slope", "info"}:
            raise ValueError(f"kind must be ratio/equality/slope/info, got {self.kind!r}")
        if isinstance(self.measured, float) and math.isnan(self.measured):
            raise ValueError(f"measured is NaN for check {self.claim}: {self.inequality}")


def ratio_check(
    claim: str,
    inequality: str,
    grid: str,
    worst_ratio: float,
    key: str,
    *,
    slack: float = RATIO_SLACK,
    detail: str = "",
) -> Check:
    """A ``measured/bound ≤ 1 + slack`` row (``slack`` is the float round-off allowance)."""
    thr = 1.0 + slack
    return Check(claim, inequality, grid, float(worst_ratio), thr, bool(worst_ratio <= thr), key,
                 "ratio", detail)


#: The checkpoint folder of the experiment run in progress (set by the runner), or None.
_CHECKPOINT_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "experiments_checkpoint_dir", default=None)
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@contextlib.contextmanager
def checkpoint_dir(path: str | Path | None) -> Iterator[None]:
    """Within the block, :func:`checkpoint_path` puts its files in ``path`` (``None``: nowhere).

    The runner (``experiments/_runner.py``) wraps each experiment's ``run`` in it.
    """
    token = _CHECKPOINT_DIR.set(None if path is None else Path(path))
    try:
        yield
    finally:
        _CHECKPOINT_DIR.reset(token)


def checkpoint_path(tag: str) -> Path | None:
    """Checkpoint file of the training run ``tag`` of the experiment run in progress, or None.

    Under the runner: ``<checkpoint folder>/<tag>.pt`` (the folder is created; the runner
    deletes it after a successful run). Outside a runner context: ``None`` (no checkpoint).
    ``theory.flow.train_flow(..., checkpoint=PATH)`` resumes from the file when its content
    fingerprint matches (same config, settings and data), and refuses to overwrite it otherwise;
    the runner's folder is per case fingerprint (code, config, case), so it only ever holds the
    checkpoints of the same computation.

    Args:
        tag: names the training run within the experiment (letters, digits, ``_ . -``;
            e.g. a data set's name); distinct training runs need distinct tags.

    Raises:
        ValueError: naming ``tag`` if it is empty or has other characters.
    """
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise ValueError(f"tag must be letters, digits, '_', '.', '-' (not starting with one "
                         f"of the last three), got {tag!r}")
    folder = _CHECKPOINT_DIR.get()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{tag}.pt"
