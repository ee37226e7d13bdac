"""Check rows for the validity of a neural flow's density (docs/numerics.md §6.10; claim C9).

Every neural experiment stores, per trained flow, the held-out NLL at 1, 2, 4 times each block's
reporting count (:func:`theory.flow.nll_refinement`, ``StepRefinement.as_dict()``); 2-D flows
also store the mass of q̂ on a box (:func:`theory.flow.grid_mass`). These helpers turn them into
``paper_checks.md`` rows:

- :func:`refinement_row`: max_n |NLL_n(S) − NLL_n(4S)| / max(0.02 nats, SE_n) ≤ 1;
- :func:`mass_row`: |∫_B q̂ (grid) − P_q̂(B) (samples)| / tolerance ≤ 1;
- :func:`entropy_row`: a held-out NLL at or above the data's entropy, i.e. the same-sample
  estimate of KL(P‖q̂_n) ≥ −3 SE at every block: max_n (−KL̂_n)/(3 SE_n) ≤ 1;
- :func:`monotone_row` (§6.11): the held-out, step-converged (4S) NLL does not rise at any
  block by more than 2 paired SE: max_n (NLL_n − NLL_{n−1}) / (2 SE(ΔNLL_n)) ≤ 1, with the
  blocks the training accepted named (the others are the identity and change nothing).
"""

from __future__ import annotations

import numpy as np

from experiments._api import Check, ratio_check

__all__ = ["entropy_row", "mass_row", "monotone_row", "monotone_ratio", "refinement_row",
           "worst_refinement"]


def _refinement_ratio(ref: dict) -> float:
    return float(np.max(np.asarray(ref["error"]) / np.asarray(ref["tolerance"])))


def _entropy_ratio(ref: dict) -> float:
    return float(np.max(-np.asarray(ref["kl"])[0] / (3.0 * np.asarray(ref["kl_se"])[0])))


def worst_refinement(refs: list[dict], *, entropy: bool = False) -> tuple[int, dict]:
    """``(index, ref)`` of the run whose refinement (or, ``entropy=True``, KL) row is worst."""
    ratios = [(_entropy_ratio if entropy else _refinement_ratio)(r) for r in refs]
    i = int(np.argmax(ratios))
    return i, refs[i]


def refinement_row(where: str, ref: dict, key: str) -> Check:
    """The step-convergence row of one flow (``ref``: ``StepRefinement.as_dict()``)."""
    err, tol = np.asarray(ref["error"]), np.asarray(ref["tolerance"])
    r = err / tol
    b = int(np.argmax(r))
    nll = np.asarray(ref["nll"])
    order = ref["order"][-1]
    rich = ref["richardson"][-1]
    k0, k1 = ref["factors"][0], ref["factors"][-1]
    detail = (f"worst block {b + 1}: |NLL(S) − NLL({k1 // k0}S)| = {err[b]:.3g} nats against "
              f"max(0.02, SE) = {tol[b]:.3g}; S = the blocks' reporting counts "
              f"{sorted(set(ref['base_steps']))}; final NLL {nll[0, -1]:.4f} at S, "
              f"{nll[-1, -1]:.4f} at {k1 // k0}S"
              + (f", observed order {order:.2f}, Richardson {rich:.4f}" if order is not None
                 else ", order not visible (differences at round-off or of mixed sign)"))
    return ratio_check("C9", "held-out NLL of the n-block model is step-converged: "
                       "max_n |NLL_n(S) − NLL_n(4S)| / max(0.02 nats, SE_n) ≤ 1",
                       where, float(r.max()), key, slack=0.0, detail=detail)


def mass_row(where: str, gm: dict, key: str) -> Check:
    """The grid-mass row of one 2-D flow (``gm``: ``GridMass.as_dict()``)."""
    ratio = gm["gap"] / gm["tolerance"]
    lo, hi = gm["box"]
    detail = (f"∫_B q̂ = {gm['mass']:.5f} (midpoint, {gm['n_grid']}² cells; "
              f"{gm['mass_coarse']:.5f} on {gm['n_grid'] // 2}²) vs fraction of generated "
              f"samples in B {gm['frac_in_box']:.5f} ± {gm['frac_se']:.2g}; tolerance "
              f"{gm['tolerance']:.3g} = 3 SE + grid difference + 1e-3; B = [{lo:g}, {hi:g}]²")
    return ratio_check("C9", "the flow's density integrates to 1: |∫_B q̂ − P_q̂(B)| / tol ≤ 1 "
                       "(grid integral of the forward density vs generated samples)",
                       where, float(ratio), key, slack=0.0, detail=detail)


def entropy_row(where: str, ref: dict, key: str) -> Check:
    """NLL ≥ H − 3 SE at every block, as the same-sample KL estimate ≥ −3 SE."""
    kl, se = np.asarray(ref["kl"])[0], np.asarray(ref["kl_se"])[0]
    r = -kl / (3.0 * se)
    b = int(np.argmax(r))
    detail = (f"same-sample KL̂(P‖q̂_n) = NLL_n − H at the reporting count: min over blocks "
              f"{kl.min():.4g} nats, at block {b + 1}: {kl[b]:.4g} ± {se[b]:.2g} (a normalised "
              f"density has KL ≥ 0; NLL below H − 3 SE is a density that does not integrate "
              f"to 1)")
    return ratio_check("C9", "held-out NLL ≥ H(p) − 3 SE at every block: "
                       "max_n (−KL̂_n)/(3 SE_n) ≤ 1", where, float(r.max()), key, slack=0.0,
                       detail=detail)


def monotone_ratio(ref: dict) -> tuple[float, int]:
    """``(max_n rise_n / (2 SE_n), n)`` of the finest-count NLL, n = 1..N (n = 1: against q).

    A rise with a zero SE (an identity block: exactly no change) counts 0 if it is 0.
    """
    nll, se = np.asarray(ref["nll"])[-1], np.asarray(ref["dnll_se"])[-1]
    rise = np.diff(np.concatenate([[ref["nll0"]], nll]))
    safe = np.where(se > 0, 2.0 * se, 1.0)
    r = np.where(se > 0, rise / safe, np.where(rise > 0, np.inf, 0.0))
    b = int(np.argmax(r))
    return float(r[b]), b + 1


def monotone_row(where: str, ref: dict, acceptance: list[dict], key: str) -> Check:
    """Held-out NLL (at 4S) non-increasing within 2 paired SE at every block (§6.11)."""
    ratio, b = monotone_ratio(ref)
    nll = np.concatenate([[ref["nll0"]], np.asarray(ref["nll"])[-1]])
    dse = np.asarray(ref["dnll_se"])[-1]
    k = ref["factors"][-1] // ref["factors"][0]
    ids = [a["block"] for a in acceptance if a.get("identity")]
    retried = [a["block"] for a in acceptance if a.get("attempts", 1) > 1]
    acc = (f"identity (rejected) blocks {ids or 'none'}, retrained {retried or 'none'}"
           if acceptance else "acceptance off")
    detail = (f"NLL_n, n = 0..{len(nll) - 1}, at {k}S: {', '.join(f'{v:.4f}' for v in nll)} "
              f"nats (n = 0: q itself); worst block {b}: "
              f"{nll[b] - nll[b - 1]:+.3g} ± {dse[b - 1]:.2g} (paired SE); {acc}")
    return ratio_check("C9", "held-out step-converged NLL non-increasing over the blocks: "
                       "max_n (NLL_n − NLL_{n−1}) / (2 SE) ≤ 1", where, ratio, key, slack=0.0,
                       detail=detail)
