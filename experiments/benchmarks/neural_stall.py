"""Why the late blocks of a trained JKO flow stall on the ring mixture (issue: KL ≈ 0.01 floor).

Ring of 8 Gaussians (:func:`~theory.flow.ring_mixture`), 8 blocks, γ_n = 0.25·1.4^{n-1},
64-64 time-dependent softplus field, batch 500, exact divergence, float32 training, 1 torch thread.
KL(ρ_n‖q) in nats by the k3 estimator on one set of held-out points (exact densities, float64),
the same set for every run and table.

Four measurements:

1. **Where the iterations go.** The same total number of Adam iterations placed uniformly,
   front-loaded on the early blocks, or back-loaded on the late ones (``block_iters``); and the
   front-loaded placement with a tanh field instead of softplus (β = 20).
2. **Can a late block learn its step?** The uniform flow's block 6 is retrained from the same
   start with ``LATE_FACTOR`` times the samples (batch × iterations) and compared with the exact
   JKO step's guaranteed gain :math:`\\mathrm{KL}_{5}(1-(1+\\gamma_6)^{-2})` (docs/theory.md T6).
3. **Where the KL sits.** log(ρ_N/q) at the origin (the centre of the ring, where ρ_0 has a
   hole) and at radius 0.25, and the KL carried by radius bands.
4. **Loss noise against the gain.** For each block of the uniform flow: the standard error of the
   minibatch loss at batch 500, of the loss minus the identity map's loss (the same gradient),
   the KL gain achieved and the exact step's guaranteed gain.

Timings are medians of nothing (one run each): read them as costs, not as a benchmark.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace

import numpy as np
import torch

from theory.flow import (
    FlowConfig,
    ring_mixture,
    std_normal_log_prob,
    torch_threads,
    train_block,
    train_flow,
)

TITLE = "Why late neural JKO blocks stall: iterations early vs late, a late block retrained"

BASE = FlowConfig(n_blocks=8, schedule="geometric", gamma=0.25, ratio=1.4, iters=200, batch=500,
                  n_train=100000)

#: Per-block iteration counts with the same total (3600), placed three ways (softplus β = 20),
#: and the front-loaded placement with a tanh field: (iterations, activation).
PLACEMENTS = {"uniform": ((450,) * 8, "softplus"),
              "front-loaded": ((800, 800, 800, 400, 200, 200, 200, 200), "softplus"),
              "back-loaded": ((200, 200, 200, 200, 400, 800, 800, 800), "softplus"),
              "front-loaded, tanh": ((800, 800, 800, 400, 200, 200, 200, 200), "tanh")}
#: Block 6 retrained with this many times the samples of the uniform flow's block 6.
LATE_FACTOR = 8

PROFILES = {False: dict(n_blocks=8, scale=1.0, n_eval=10000, late_block=6),
            True: dict(n_blocks=3, scale=0.05, n_eval=1000, late_block=2)}


def _kl_k3(logr: np.ndarray) -> float:
    """k3 estimate of KL(ρ‖q) from log(q/ρ) at points of ρ (nats)."""
    return float(np.mean(np.expm1(logr) - logr))


def _per_block(flow, data, x0: torch.Tensor, batch: int) -> list[dict]:
    """Per block: KL before/after, gain, guaranteed exact gain, loss standard errors."""
    f64 = flow.evaluation_copy()
    lp0 = data.log_prob(x0)
    x, ell_tot = x0, torch.zeros(len(x0), dtype=torch.float64)
    kl_prev = _kl_k3((std_normal_log_prob(x) - lp0).numpy())
    rows = []
    for k, blk in enumerate(f64.blocks):
        g = f64.gammas[k]
        with torch.no_grad():
            y, ell = blk(x)
        per = 0.5 * (y ** 2).sum(1) - ell + ((y - x) ** 2).sum(1) / (2 * g)
        diff = per - 0.5 * (x ** 2).sum(1)
        ell_tot = ell_tot + ell
        kl_n = _kl_k3((std_normal_log_prob(y) - (lp0 - ell_tot)).numpy())
        rows.append({"block": k + 1, "gamma": g, "kl_before": kl_prev, "kl_after": kl_n,
                     "gain": kl_prev - kl_n,
                     "exact_gain_at_least": kl_prev * (1.0 - (1.0 + g) ** -2),
                     "loss_se": float(per.std() / np.sqrt(batch)),
                     "loss_minus_identity_se": float(diff.std() / np.sqrt(batch))})
        x, kl_prev = y, kl_n
    return rows


#: Radii (in q's units) of the bands of the KL decomposition.
BANDS = (0.0, 0.25, 0.5, 1.0, 2.0, np.inf)


def _crater(flow, data, x0: torch.Tensor) -> dict:
    """Where the final KL sits: log(ρ_N/q) at the origin and at radius 0.25, KL by radius band.

    ρ_N(y) = ρ_0(F^{-1}y)·det∇F^{-1}(y) by backward integration (float64); the KL of each band is
    the mean over ρ_N-samples F(x0) of log(ρ_N/q)·1[|y| in band] (the bands sum to the plain KL
    estimate, not to the k3 one).
    """
    f64 = flow.evaluation_copy()
    ang = 2 * np.pi * np.arange(8) / 8
    y = torch.as_tensor(np.concatenate([[[0.0, 0.0]], 0.25 * np.stack([np.cos(ang),
                                                                         np.sin(ang)], 1)]))
    with torch.no_grad():
        x, ell_inv = f64.inverse(y)
        lr_pts = (data.log_prob(x) + ell_inv - std_normal_log_prob(y)).numpy()
        yx, ell = f64(x0)
        lr = (data.log_prob(x0) - ell - std_normal_log_prob(yx)).numpy()
    rad = yx.norm(dim=1).numpy()
    bands = [{"r_lo": float(a), "r_hi": float(b), "mass": float(((rad >= a) & (rad < b)).mean()),
              "kl_part": float((lr * ((rad >= a) & (rad < b))).mean())}
             for a, b in zip(BANDS[:-1], BANDS[1:], strict=True)]
    return {"log_ratio_origin": float(lr_pts[0]), "log_ratio_r025": lr_pts[1:].tolist(),
            "bands": bands, "kl_plain": float(lr.mean())}


def _placement(its: tuple[int, ...], activation: str, p: dict, data,
               x_eval: torch.Tensor) -> dict:
    its = tuple(max(1, round(i * p["scale"])) for i in its[:p["n_blocks"]])
    cfg = replace(BASE, n_blocks=p["n_blocks"], block_iters=its, activation=activation)
    tr = train_flow(cfg, data, n_eval=p["n_eval"], n_residual=200, show_progress=False)
    per = _per_block(tr.flow, data, x_eval, cfg.batch)
    # one held-out set (x_eval) for every KL in the tables; train_flow's own held-out KL is kept
    return {"block_iters": list(its), "kl": [r["kl_after"] for r in per],
            "kl_train_flow_heldout": [d.kl for d in tr.diagnostics],
            "kl_se_train_flow_heldout": [d.kl_se for d in tr.diagnostics],
            "eps": [d.eps_exact for d in tr.diagnostics],
            "train_s": float(sum(tr.train_times)), "per_block": per,
            "crater": _crater(tr.flow, data, x_eval), "_flow": tr.flow, "_cfg": cfg}


def _retrain_late(run: dict, p: dict, data, x_eval: torch.Tensor) -> dict:
    """Retrain block ``late_block`` of the uniform flow with LATE_FACTOR× the samples."""
    flow, cfg, nb = run["_flow"], run["_cfg"], p["late_block"] - 1
    x_train = torch.as_tensor(data.sample(cfg.n_train, np.random.default_rng(cfg.seed)),
                              dtype=cfg.torch_dtype)
    with torch.no_grad():
        x_train, _ = flow(x_train, upto=nb)
    blk = copy.deepcopy(flow.blocks[nb - 1])  # the same warm start as in train_flow
    big = replace(cfg, batch=cfg.batch * 2, iters=cfg.iters_of(nb) * LATE_FACTOR // 2,
                  block_iters=None)
    t0 = time.perf_counter()
    train_block(blk, x_train, big, gamma=flow.gammas[nb],
                generator=torch.Generator().manual_seed(1))
    dt = time.perf_counter() - t0
    f64 = flow.evaluation_copy()
    lp0 = data.log_prob(x_eval)
    with torch.no_grad():
        y, ell = f64(x_eval, upto=nb)
        y2, ell2 = copy.deepcopy(blk).double()(y)
    kl_before = _kl_k3((std_normal_log_prob(y) - (lp0 - ell)).numpy())
    kl_after = _kl_k3((std_normal_log_prob(y2) - (lp0 - ell - ell2)).numpy())
    g = flow.gammas[nb]
    return {"block": nb + 1, "gamma": g, "batch": big.batch, "iters": big.iters,
            "kl_before": kl_before, "kl_after_retrained": kl_after,
            "kl_after_original": run["kl"][nb],
            "exact_bound_after": kl_before / (1.0 + g) ** 2, "train_s": dt}


def run(quick: bool = False) -> dict:
    with torch_threads(1):
        return _run(quick)


def _run(quick: bool) -> dict:
    p = PROFILES[quick]
    data = ring_mixture()
    x_eval = torch.as_tensor(data.sample(p["n_eval"], np.random.default_rng(99)))
    runs = {name: _placement(its, act, p, data, x_eval)
            for name, (its, act) in PLACEMENTS.items()}
    late = _retrain_late(runs["uniform"], p, data, x_eval)
    lines = ["| iterations per block | KL(ρ_n‖q) after each block [nats] | ε_n after the last "
             "block | training |", "|---|---|---|---|"]
    for name, r in runs.items():
        kl = " ".join(f"{v:.4f}" for v in r["kl"])
        lines.append(f"| {name}: {'/'.join(map(str, r['block_iters']))} | {kl} | "
                     f"{r['eps'][-1]:.2f} | {r['train_s']:.0f} s |")
    lines += ["", f"Block {late['block']} (γ = {late['gamma']:.2f}) of the uniform flow retrained "
              f"with {LATE_FACTOR}× the samples (batch {late['batch']}, {late['iters']} "
              f"iterations): KL {late['kl_before']:.4f} → {late['kl_after_retrained']:.4f} "
              f"(original block: {late['kl_after_original']:.4f}; the exact JKO step guarantees "
              f"≤ {late['exact_bound_after']:.4f}).", "",
              "| block | γ_n | KL gain | exact step's gain ≥ | loss SE (batch 500) | "
              "SE of loss − identity's |", "|---|---|---|---|---|---|"]
    for row in runs["uniform"]["per_block"]:
        lines.append(f"| {row['block']} | {row['gamma']:.2f} | {row['gain']:.2e} | "
                     f"{row['exact_gain_at_least']:.2e} | {row['loss_se']:.3f} | "
                     f"{row['loss_minus_identity_se']:.4f} |")
    lines += ["", "Where the final KL sits (log of the learned density over q at the origin and "
              "the mean at radius 0.25; the KL carried by the disc |y| < 0.25 and its mass):", "",
              "| training | log ρ_N/q at 0 | at r = 0.25 | KL in r < 0.25 | mass in r < 0.25 | "
              "KL (plain estimate) |", "|---|---|---|---|---|---|"]
    for name, r in runs.items():
        c = r["crater"]
        b0 = c["bands"][0]
        lines.append(f"| {name} | {c['log_ratio_origin']:+.2f} | "
                     f"{np.mean(c['log_ratio_r025']):+.2f} | {b0['kl_part']:.2e} | "
                     f"{b0['mass']:.3f} | {c['kl_plain']:.2e} |")
    for r in runs.values():
        del r["_flow"], r["_cfg"]
    return {"placements": runs, "late_block": late, "quick": quick, "table": "\n".join(lines)}
