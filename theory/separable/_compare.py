r"""A trained neural JKO flow measured block by block against the exact separable reference.

docs/numerics.md §7.3; claims C3, C4, C8, C13, C19 on the real model. Held-out points
:math:`x \sim \rho_0` are pushed through the blocks in float64; at every block n, with
:math:`y = T_n^{net}(x)` and the network's own density :math:`\rho_n^{net}` (change of variables):

- ``kl_to_exact``: :math:`\mathrm{KL}(\rho_n^{net}\|\rho_n)` from the exact log-densities of both
  (k3 estimator, nats) and ``kl_net``: :math:`\mathrm{KL}(\rho_n^{net}\|q)`;
- ``coupling``: :math:`c_n = (\mathbb E|F_n^{net}(x_0) - F_n(x_0)|^2)^{1/2}`, the L² gap between
  the network's composed map and the exact composed OT maps from the same :math:`x_0`; it bounds
  :math:`W_2(\rho_n^{net}, \rho_n)` (not squared) from above, hence
  :math:`|W_2(\rho_n^{net}, q) - W_2(\rho_n, q)| \le c_n`;
- the residual through the network's inverse, :math:`\xi = s^{net}(y) + y + (y - x)/\gamma_n`
  (:func:`theory.flow.exact_residual`; ε_n is its L² norm), split exactly as

  .. math::
      \xi = \underbrace{s^{net}(y) - s_n(y)}_{\text{score error}}
      + \underbrace{(1+\gamma_n^{-1})(y - T_n x)}_{\text{map error}}
      + \underbrace{s_n(y) - s_n(T_n x)}_{\text{curvature}},

  using the exact first-order condition :math:`(T_n x - x)/\gamma_n + T_n x + s_n(T_n x) = 0`
  of the OT map :math:`T_n` (:math:`s_n = \nabla\log\rho_n`, exact); and the ODE part
  ``disc``: the change of ξ when the same velocity field is integrated with 4× the RK4 steps;
- where ε² sits: the share of :math:`\sum|\xi|^2` carried by the 10% of points of lowest exact
  density :math:`\rho_n(y)`, and the same share for the score error.
"""

from __future__ import annotations

import numpy as np
import torch

from theory.flow import exact_residual, kl_k3, std_normal_log_prob, to_numpy
from theory.separable._reference import SeparableJKO
from theory.validate import check_int

__all__ = ["compare_flow"]


def _l2(v: np.ndarray) -> float:
    """Root mean square of the row norms of v (n, d)."""
    return float(np.sqrt((v * v).sum(1).mean()))


def _low_share(sq: np.ndarray, logp: np.ndarray) -> float:
    """Share of Σ sq carried by the 10% of points with the lowest log-density."""
    k = max(1, sq.size // 10)
    idx = np.argsort(logp)[:k]
    return float(sq[idx].sum() / max(sq.sum(), 1e-300))


def compare_flow(flow, ref: SeparableJKO, x0: np.ndarray, *, n_residual: int = 1000,
                 steps: int = 6, fine_factor: int = 4) -> list[dict]:
    """Per-block comparison of a trained flow with the exact reference (module docstring).

    Args:
        flow: a trained :class:`theory.flow.JKOFlow` (any dtype; evaluated in float64).
        ref: the reference built with the flow's step sizes.
        x0 ((m, d) array): held-out samples of ρ_0 (not used in training).
        n_residual: the first n_residual points carry the score and the residual.
        steps: RK4 steps per block for the reported numbers.
        fine_factor: the ODE part compares with ``fine_factor × steps`` steps.

    Returns:
        list of N dicts (block n = 1..N) with the keys described in the module docstring plus
        ``kl_exact`` (KL(ρ_n‖q) of the reference), ``w2_exact`` (W2(ρ_n, q)), ``eps``,
        ``eps_sq_se``, ``score_err``, ``map_err``, ``curv_err``, ``disc_err`` (L² norms, the
        units of ξ), ``movement`` (E|y−x|², squared length), ``low_share``, ``low_share_score``,
        ``kl_to_exact_se``, ``kl_net_se``, ``coupling_se`` and ``gamma``.

    Raises:
        ValueError: if the flow and the reference disagree in dimension, number of blocks or
            step sizes; naming ``ref``, ``flow``, ``x0`` or ``n_residual`` if invalid.
    """
    if not isinstance(ref, SeparableJKO):
        raise ValueError(f"ref must be a SeparableJKO (separable_jko(...)), got {ref!r}")
    if not all(hasattr(flow, a) for a in ("blocks", "gammas", "d")):
        raise ValueError(f"flow must be a trained JKOFlow (blocks, gammas, d), got {flow!r}")
    n_residual = check_int(n_residual, "n_residual", minimum=10)
    blocks = list(flow.blocks)
    gammas = np.asarray(flow.gammas, dtype=np.float64)
    if flow.d != ref.d or len(blocks) != ref.n_blocks or not np.allclose(gammas, ref.gammas):
        raise ValueError("flow and ref must have the same dimension, number of blocks and steps")
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.ndim != 2 or x0.shape[1] != ref.d or x0.shape[0] < n_residual:
        raise ValueError(f"x0 must be (m, {ref.d}) with m ≥ n_residual = {n_residual}")
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0 must be finite")
    data = ref.data
    x = torch.as_tensor(x0)
    logp = torch.as_tensor(data.log_pdf(x0))
    xr = x[:n_residual].clone().requires_grad_(True)
    with torch.enable_grad():
        score = torch.autograd.grad(data.log_prob(xr).sum(), xr)[0].detach()
    xr = xr.detach()
    out = []
    for n, blk in enumerate(blocks, start=1):
        b64 = _float64(blk)
        gam = float(gammas[n - 1])
        with torch.no_grad():
            y, ell = b64(x, steps=steps)
        logp = logp - ell
        y_np, lp_np = to_numpy(y), to_numpy(logp)
        kl_ex, kl_ex_se = kl_k3(lp_np, ref.log_prob(n, y_np))
        kl_q, kl_q_se = kl_k3(lp_np, to_numpy(std_normal_log_prob(y)))
        gap = y_np - ref.push(x0, n)
        cpl_sq = (gap * gap).sum(1)
        res = exact_residual(lambda z, b=b64: b(z, steps=steps, create_graph=True), xr, score,
                             gamma=gam)
        fine = exact_residual(lambda z, b=b64: b(z, steps=fine_factor * steps,
                                                  create_graph=True), xr, score, gamma=gam)
        xr_np, yr = to_numpy(xr), to_numpy(res.y)
        xi = to_numpy(res.xi)
        s_exact = ref.score(n, yr)
        t_exact, _ = ref.transport(n, xr_np)
        e_score = to_numpy(res.score) - s_exact
        e_map = (1.0 + 1.0 / gam) * (yr - t_exact)
        e_curv = s_exact - ref.score(n, t_exact)
        lpr = ref.log_prob(n, yr)
        out.append({
            "block": n, "gamma": gam,
            "kl_to_exact": kl_ex, "kl_to_exact_se": kl_ex_se,
            "kl_net": kl_q, "kl_net_se": kl_q_se, "kl_exact": float(ref.kl[n]),
            "w2_exact": float(ref.w2_to_q[n]),
            "coupling": float(np.sqrt(cpl_sq.mean())),
            "coupling_se": float(cpl_sq.std(ddof=1) / np.sqrt(cpl_sq.size)
                                 / (2.0 * max(np.sqrt(cpl_sq.mean()), 1e-300))),
            "movement": float(((y_np - to_numpy(x)) ** 2).sum(1).mean()),
            "eps": res.eps, "eps_sq_se": res.eps_sq_se,
            "score_err": _l2(e_score), "map_err": _l2(e_map), "curv_err": _l2(e_curv),
            "decomp_residual": _l2(xi - e_score - e_map - e_curv),
            "disc_err": _l2(to_numpy(fine.xi) - xi),
            "low_share": _low_share((xi * xi).sum(1), lpr),
            "low_share_score": _low_share((e_score * e_score).sum(1), lpr),
        })
        x, xr, score = y.detach(), res.y.detach(), res.score.detach()
    return out


def _float64(block):
    """A float64 copy of a block (the flow's own block is left untouched)."""
    import copy

    return copy.deepcopy(block).to(torch.float64)
