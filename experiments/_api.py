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
- ``checks(results) -> list[Check]`` -- turns numbers into ``paper_checks.md`` rows.

The runner (``experiments/_runner.py``) discovers such modules automatically, so adding an
experiment never edits a shared registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["RATIO_SLACK", "Check", "ratio_check"]

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
