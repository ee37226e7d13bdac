"""Theory of JKO flow models: three solvers of the JKO scheme and the paper's bounds.

Reference: X. Cheng, J. Lu, Y. Tan, Y. Xie, "Convergence of flow-based generative models via
proximal gradient descent in Wasserstein space", arXiv 2310.17582 (IEEE Trans. Inf. Theory 2024);
the mathematics is summarised in docs/theory.md, the numerics in docs/numerics.md and the claims
C1-C19 in docs/claims.md. All of ``theory/`` works in float64.

The three solvers:

- :mod:`theory.gaussian` -- exact closed forms for Gaussian data and targets: the JKO step
  (``jko_step``), W2 and KL, trajectories, inexact and forward-backward steps
  (docs/theory.md §5).
- :mod:`theory.oned` -- the 1-D Lagrangian (quantile) solver of the JKO step for any convex
  functional (potential, interaction, entropy), on measures with or without a density.
- :mod:`theory.flow` -- the neural JKO flow in torch (residual blocks trained step by step).

Built on them, :mod:`theory.separable` gives exact non-Gaussian references in any dimension
(rotated products of 1-D JKO trajectories, docs/theory.md P2), the yardstick of the neural flow.

Shared modules:

- :mod:`theory.bounds` -- the paper's inequalities, one function per claim;
- :mod:`theory.rates` -- fitted slopes and seed intervals;
- :mod:`theory.spd` -- the SPD-matrix toolkit (validated spectra, matrix functions);
- :mod:`theory.validate` -- the input validators every public function uses;
- :mod:`theory.io` -- atomic file writes;
- :mod:`theory.progress` -- progress bars.

The subpackages and modules are imported on first attribute access (``theory.gaussian`` works
after a bare ``import theory``), so ``import theory`` is cheap: it imports neither scipy nor
torch until a subpackage that needs them is first used.

Example:
    >>> import theory
    >>> float(theory.bounds.w2_contraction_factor(1.0, 1.0))
    0.5
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["bounds", "flow", "gaussian", "io", "oned", "progress", "rates", "separable", "spd",
           "validate"]


def __getattr__(name: str) -> ModuleType:
    """Import the submodule ``theory.<name>`` on first access (PEP 562)."""
    if name in __all__:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """List the submodules together with the module's own attributes."""
    return sorted({*globals(), *__all__})
