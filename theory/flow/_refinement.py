r"""Step convergence of a flow's density: NLL at S, 2S, 4S RK4 steps, and mass on a grid.

A block's log-density :math:`\log\hat q(x) = \log q(F(x)) + \int_0^1\nabla\!\cdot v\,dt` is only
as good as the quadrature of the trace. A field trained at a fixed step count S can learn to
exploit that quadrature: the discrete "density" then no longer integrates to 1 and its held-out
NLL can fall below the data's entropy (docs/numerics.md §6.10). Two reference-free measurements
expose this:

- :func:`nll_refinement`: the held-out NLL of the n-block model, n = 1..N, at S, 2S and 4S steps
  per block, with the refinement error :math:`|\mathrm{NLL}(S)-\mathrm{NLL}(4S)|`, the observed
  order and a Richardson estimate (RK4 is 4th order: the differences shrink 16-fold per
  doubling once S is in the asymptotic range);
- :func:`grid_mass` (d = 2): :math:`\int_B\hat q` over a box B by the midpoint rule on n×n and
  2n×2n grids, against the fraction of generated samples :math:`F^{-1}(z)` that fall in B; a
  normalised density gives the same number both ways.

Claims C9 (exact densities) and every neural row that reports a density-derived number. NLL in
nats; points in the data's units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from theory.flow._convert import to_numpy
from theory.flow._data import std_normal_log_prob
from theory.flow._model import report_steps
from theory.validate import check_finite_scalar, check_int, check_positive_scalar

__all__ = ["GridMass", "StepRefinement", "grid_mass", "nll_refinement", "refinement_tolerance"]

#: Absolute floor of the refinement tolerance in nats (the issue's "0.02 nats or 1 SE").
ABS_TOL = 0.02


def refinement_tolerance(se: float, abs_tol: float = ABS_TOL) -> float:
    r"""Tolerance on a refinement error: :math:`\max(\text{abs\_tol}, \mathrm{SE})` in nats.

    An error below one standard error of the held-out mean is invisible in any reported number;
    the floor ``abs_tol`` (0.02 nats) keeps the test meaningful when the SE is tiny.
    """
    return max(check_positive_scalar(abs_tol, "abs_tol"), float(se))


def _float64(flow):
    """``flow`` if its parameters are float64, else a float64 copy (reported numbers)."""
    p = next(flow.parameters(), None)
    if p is None:
        raise ValueError("flow has no blocks")
    return flow if p.dtype == torch.float64 else flow.evaluation_copy()


def _base_steps(flow) -> list[int]:
    """Each block's reporting count :func:`~theory.flow.report_steps` (the flow's default)."""
    return [report_steps(b, getattr(flow, "config", None)) for b in flow.blocks]


def _points(flow, x, name: str) -> torch.Tensor:
    p = next(flow.parameters())
    try:
        t = torch.as_tensor(x).to(dtype=torch.float64, device=p.device)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be an (n, d) array or tensor of numbers") from None
    if t.ndim != 2 or t.shape[1] != flow.d or t.shape[0] < 2:
        raise ValueError(f"{name} must have shape (n, {flow.d}) with n >= 2, got "
                         f"{tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return t


def _factors(factors) -> tuple[int, ...]:
    if not isinstance(factors, (tuple, list)) or len(factors) < 2:
        raise ValueError(f"factors must be a tuple of at least two ints, got {factors!r}")
    out = tuple(check_int(f, "factors", minimum=1) for f in factors)
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ValueError(f"factors must be increasing, got {out!r}")
    return out


@dataclass(frozen=True)
class StepRefinement:
    r"""Held-out NLL of the n-block model (n = 1..N) at several RK4 step counts.

    Attributes:
        steps: the refinement factors k, increasing (default 1, 2, 4): block b is integrated
            with ``k * base[b]`` steps.
        base: (N,) each block's base count S_b (its reporting count, or the given ``steps``).
        nll ((len(steps), N) array): :math:`-\frac1m\sum_i\log\hat q_n(x_i)` in nats, where
            :math:`\hat q_n` is the n-block model's density at factor k.
        nll_se ((len(steps), N) array): standard errors of those means.
        kl, kl_se ((len(steps), N) arrays or None): with ``log_p``, the same-sample estimate
            :math:`\frac1m\sum_i[\log p(x_i) - \log\hat q_n(x_i)]` of KL(P‖q̂_n) and its SE.
            Unlike the k3 estimator it can be negative, which is what exposes a "density"
            that does not integrate to 1.
        dnll_se ((len(steps), N) array or None): standard error of the paired per-point change
            :math:`\mathrm{NLL}_n - \mathrm{NLL}_{n-1}` (n = 1: against the zero-block model
            q = N(0, I) itself); 0 where block n is the identity.
        nll0 (float or None): the NLL of the zero-block model q = N(0, I) on the same points.
    """

    steps: tuple[int, ...]
    base: tuple[int, ...]
    nll: np.ndarray
    nll_se: np.ndarray
    kl: np.ndarray | None = None
    kl_se: np.ndarray | None = None
    dnll_se: np.ndarray | None = None
    nll0: float | None = None

    @property
    def error(self) -> np.ndarray:
        """(N,) refinement error |NLL(k_0 S) - NLL(k_max S)| per block, nats."""
        return np.abs(self.nll[0] - self.nll[-1])

    @property
    def tolerance(self) -> np.ndarray:
        """(N,) :func:`refinement_tolerance` of the finest count's SE, per block."""
        return np.array([refinement_tolerance(s) for s in self.nll_se[-1]])

    @property
    def converged(self) -> np.ndarray:
        """(N,) bool: refinement error within tolerance."""
        return self.error <= self.tolerance

    def richardson(self) -> tuple[np.ndarray, np.ndarray]:
        r"""Observed order p and Richardson estimate from the last three step counts.

        With differences :math:`d_1 = v(S_{k-2}) - v(S_{k-1})`, :math:`d_2 = v(S_{k-1}) - v(S_k)`
        and step ratio r: :math:`p = \log_r(d_1/d_2)` and
        :math:`v_\infty = v(S_k) - d_2/(r^p - 1)`. Where the order is not visible (fewer than
        three counts, unequal ratios, :math:`d_1d_2\le 0` or p ≤ 0.5) both are NaN-free
        ``None`` entries: (N,) object arrays.
        """
        n = self.nll.shape[1]
        order = np.full(n, None, dtype=object)
        est = np.full(n, None, dtype=object)
        if len(self.steps) < 3:
            return order, est
        s0, s1, s2 = self.steps[-3:]  # factors
        if s1 * s1 != s0 * s2:
            return order, est
        r = s1 / s0
        for b in range(n):
            d1 = self.nll[-3, b] - self.nll[-2, b]
            d2 = self.nll[-2, b] - self.nll[-1, b]
            if d1 * d2 <= 0.0:
                continue
            p = math.log(d1 / d2) / math.log(r)
            if p <= 0.5:
                continue
            order[b] = p
            est[b] = float(self.nll[-1, b] - d2 / (r**p - 1.0))
        return order, est

    def as_dict(self) -> dict:
        """JSON-able summary: steps, per-block NLL/SE per count, error, tolerance, order."""
        order, est = self.richardson()
        out = {"factors": list(self.steps), "base_steps": list(self.base),
               "nll": self.nll.tolist(),
               "nll_se": self.nll_se.tolist(), "error": self.error.tolist(),
               "tolerance": self.tolerance.tolist(),
               "converged": [bool(c) for c in self.converged],
               "order": [None if o is None else float(o) for o in order],
               "richardson": [None if e is None else float(e) for e in est]}
        if self.kl is not None:
            out["kl"], out["kl_se"] = self.kl.tolist(), self.kl_se.tolist()
        if self.dnll_se is not None:
            out["dnll_se"] = self.dnll_se.tolist()
        if self.nll0 is not None:
            out["nll0"] = float(self.nll0)
        return out


def nll_refinement(flow, x, *, factors: tuple[int, ...] = (1, 2, 4), steps: int | None = None,
                   log_p=None) -> StepRefinement:
    r"""Held-out NLL of the n-block model, n = 1..N, at k = 1, 2, 4 times each block's steps.

    :math:`\log\hat q_n(x) = \log q(F_n(x)) + \log\det\nabla F_n(x)` with q = N(0, I) and
    :math:`F_n = T_n\circ\cdots\circ T_1`, block b integrated with ``k * S_b`` RK4 steps, S_b its
    reporting count (:func:`~theory.flow.report_steps`: what :meth:`JKOFlow.log_prob` uses by
    default) or ``steps`` for every block.

    Args:
        flow: a :class:`~theory.flow.JKOFlow` (evaluated in a float64 copy if it is not one).
        x ((m, d) array or tensor): held-out data, m >= 2.
        factors: increasing refinement factors (default (1, 2, 4): S vs 4S).
        steps: one base count for every block instead of the reporting counts.
        log_p ((m,) array or None): exact log p(x) of the data law, for the same-sample KL.

    Returns:
        :class:`StepRefinement`.

    Raises:
        ValueError: for an empty flow, an ``x`` that is not a finite (m, d) array with m >= 2,
            bad ``factors``/``steps``, a ``log_p`` that is not a finite (m,) array, or a
            non-finite log-density (a diverged flow).
    """
    f64 = _float64(flow)
    ks = _factors(factors)
    base = _base_steps(f64) if steps is None else [check_int(steps, "steps", minimum=1)] * len(f64)
    x0 = _points(f64, x, "x")
    m = x0.shape[0]
    lp = None
    if log_p is not None:
        lp = np.asarray(to_numpy(log_p) if isinstance(log_p, torch.Tensor) else log_p,
                        dtype=np.float64)
        if lp.shape != (m,) or not np.isfinite(lp).all():
            raise ValueError(f"log_p must be a finite ({m},) array, got shape {lp.shape}")
    nll = np.empty((len(ks), len(f64)))
    se = np.empty_like(nll)
    dse = np.empty_like(nll)
    kl, kl_se = (np.empty_like(nll), np.empty_like(nll)) if lp is not None else (None, None)
    with torch.no_grad():
        for i, k in enumerate(ks):
            y, ell = x0, torch.zeros(m, dtype=torch.float64, device=x0.device)
            prev = to_numpy(std_normal_log_prob(x0))
            for b, blk in enumerate(f64.blocks):
                y, l_b = blk(y, steps=k * base[b])
                ell = ell + l_b
                lq = to_numpy(std_normal_log_prob(y) + ell)
                if not np.isfinite(lq).all():
                    raise ValueError(f"flow: non-finite log-density after block {b + 1} at "
                                     f"{k * base[b]} steps (a diverged flow)")
                nll[i, b] = -lq.mean()
                se[i, b] = lq.std(ddof=1) / math.sqrt(m)
                dse[i, b] = (lq - prev).std(ddof=1) / math.sqrt(m)
                prev = lq
                if lp is not None:
                    h = lp - lq
                    kl[i, b], kl_se[i, b] = h.mean(), h.std(ddof=1) / math.sqrt(m)
    nll0 = -float(to_numpy(std_normal_log_prob(x0)).mean())
    return StepRefinement(ks, tuple(base), nll, se, kl, kl_se, dse, nll0)


@dataclass(frozen=True)
class GridMass:
    r"""Mass of a 2-D flow density on a box B, two ways.

    Attributes:
        box: ``(lo, hi)``, the square :math:`[lo, hi]^2`.
        steps: RK4 steps per block (``None``: each block's reporting count).
        n_grid: cells per side of the fine grid (the coarse grid has half as many).
        mass: :math:`\int_B\hat q` by the midpoint rule on the fine grid.
        mass_coarse: the same on the coarse grid (the difference estimates the quadrature error).
        frac_in_box: fraction of generated samples :math:`F^{-1}(z)`, z ~ N(0, I), inside B.
        frac_se: its binomial standard error.
    """

    box: tuple[float, float]
    steps: int | None
    n_grid: int
    mass: float
    mass_coarse: float
    frac_in_box: float
    frac_se: float

    @property
    def gap(self) -> float:
        """|mass − frac_in_box|."""
        return abs(self.mass - self.frac_in_box)

    @property
    def tolerance(self) -> float:
        r"""3 SE of the sample fraction + 3 × the grid's quadrature error estimate + 1e-3.

        The midpoint rule is 2nd order, so :math:`|m_{2n} - m_n|/3` estimates the fine grid's
        error; three times that bounds it with margin. The floor 1e-3 is the mass a reader can
        tell from 1 in a three-digit table.
        """
        return 3.0 * self.frac_se + abs(self.mass - self.mass_coarse) + 1e-3

    @property
    def normalised(self) -> bool:
        """Gap <= tolerance."""
        return self.gap <= self.tolerance

    def as_dict(self) -> dict:
        """JSON-able fields plus gap, tolerance and the verdict."""
        return {"box": list(self.box), "steps": self.steps, "n_grid": self.n_grid,
                "mass": self.mass, "mass_coarse": self.mass_coarse,
                "frac_in_box": self.frac_in_box, "frac_se": self.frac_se, "gap": self.gap,
                "tolerance": self.tolerance, "normalised": self.normalised}


def _log_density(flow, pts: torch.Tensor, steps: int | None,
                 chunk: int = 20000) -> torch.Tensor:
    out = []
    for i in range(0, pts.shape[0], chunk):
        z, ell = flow(pts[i:i + chunk], steps=steps)
        out.append(std_normal_log_prob(z) + ell)
    return torch.cat(out)


def grid_mass(flow, box: tuple[float, float], *, steps: int | None = None, n_grid: int = 400,
              n_samples: int = 20000, seed: int = 0) -> GridMass:
    r"""Mass :math:`\int_B\hat q` of a 2-D flow on :math:`B = [lo, hi]^2`, and the sample check.

    The density is the forward one (:meth:`~theory.flow.JKOFlow.log_prob` at ``steps``); the
    samples are :math:`F^{-1}(z)` by backward integration at the same ``steps``. Both describe
    the same law exactly when the flow is step-converged.

    Args:
        flow: a 2-D :class:`~theory.flow.JKOFlow` (float64 copy used).
        box: ``(lo, hi)`` with lo < hi, holding the data.
        steps: RK4 steps per block (default: each block's reporting count, as
            :meth:`~theory.flow.JKOFlow.log_prob`).
        n_grid: even number of cells per side of the fine grid (>= 4).
        n_samples: generated samples for the fraction in the box (>= 100).
        seed: seeds z.

    Raises:
        ValueError: for a flow with d != 2 or no blocks, a bad box, odd or small ``n_grid``,
            ``n_samples < 100``, or a non-finite density on the grid.
    """
    f64 = _float64(flow)
    if f64.d != 2:
        raise ValueError(f"grid_mass needs a 2-D flow, got d={f64.d}")
    if not isinstance(box, (tuple, list)) or len(box) != 2:
        raise ValueError(f"box must be a pair (lo, hi), got {box!r}")
    lo, hi = (check_finite_scalar(b, "box") for b in box)
    if not lo < hi:
        raise ValueError(f"box must have lo < hi, got {box!r}")
    s = None if steps is None else check_int(steps, "steps", minimum=1)
    n_grid = check_int(n_grid, "n_grid", minimum=4)
    if n_grid % 2:
        raise ValueError(f"n_grid must be even, got {n_grid}")
    n_samples = check_int(n_samples, "n_samples", minimum=100)
    dev = next(f64.parameters()).device

    def midpoint(n: int) -> float:
        h = (hi - lo) / n
        c = torch.linspace(lo + h / 2, hi - h / 2, n, dtype=torch.float64, device=dev)
        gx, gy = torch.meshgrid(c, c, indexing="ij")
        with torch.no_grad():
            lq = _log_density(f64, torch.stack([gx.reshape(-1), gy.reshape(-1)], 1), s)
        if not bool(torch.isfinite(lq).all()):
            raise ValueError("flow: non-finite log-density on the grid (a diverged flow)")
        return float(torch.exp(lq).sum()) * h * h

    mass, coarse = midpoint(n_grid), midpoint(n_grid // 2)
    with torch.no_grad():
        x, _, _ = f64.sample(n_samples, generator=torch.Generator().manual_seed(seed), steps=s)
    xs = to_numpy(x)
    inside = float(np.mean(np.all((xs >= lo) & (xs <= hi), axis=1)))
    se = math.sqrt(max(inside * (1.0 - inside), 1.0 / n_samples) / n_samples)
    return GridMass((lo, hi), s, n_grid, mass, coarse, inside, se)
