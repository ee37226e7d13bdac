"""Forward-backward (Wasserstein proximal-gradient) scheme beside JKO, exactly on Gaussians.

Claim C14 (docs/theory.md R8; docs/numerics.md §1.2). For G = ∫V dρ + ∫ρ log ρ with
V = (x−b)ᵀQ(x−b)/2, one forward-backward (FB) step is an explicit gradient step on V,
x ↦ x − γQ(x − b) (:func:`theory.gaussian.potential_step`), then the exact W2-prox of the entropy
(:func:`theory.gaussian.entropy_prox`). Predictions [D], derived here:

- fixed point: JKO is unbiased (fixed point q) for every γ. FB is unbiased only for
  γ ≤ 1/λ_max(Q): the forward step multiplies the std along eigenvector i by a_i = |1 − γq_i| (the
  sign is invisible to the law), and the entropy prox maps a std s to (a s + √(a²s² + 4γ))/2, whose
  fixed point is s_i*² = γ/(1 − a_i). That is 1/q_i iff γq_i ≤ 1; for 1/λ_max(Q) < γ < 2/λ_max(Q)
  the FB fixed point is the *biased* Gaussian N(b, U diag(v_i) Uᵀ) with v_i = γ/(2 − γq_i) along
  the directions with γq_i > 1 and v_i = 1/q_i (unbiased) along those with γq_i ≤ 1 (a finding: the
  unbiasedness of FB for Gaussian targets needs the step-size restriction γ ≤ 1/L of
  Salim–Korba–Luise);
- contraction: the forward map is κ-Lipschitz with κ = max_i |1 − γq_i| and the entropy prox is
  W2-nonexpansive, so W2(FB(ρ), q*_γ) ≤ κ·W2(ρ, q*_γ) toward the FB fixed point q*_γ; stable iff
  γ < 2/λ_max(Q), whereas JKO contracts toward q by 1/(1+γλ) for every γ;
- local rates along Q's eigenvectors: means |1 − γq_i| (JKO 1/(1+γq_i)); standard deviations
  a_i/(2 − a_i) (= (1 − γq_i)/(1 + γq_i) when γq_i ≤ 1; JKO 1/(1 + 2γq_i)) — linearising the
  prox map at s_i*;
- inexact prox (residual ε of the prox objective H + W2²/(2γ), realised as a mean shift γε·u):
  W2(inexact, exact prox) ≤ γε (1/γ-strong convexity), hence
  W_n ≤ κⁿW_0 + γε(1 − κⁿ)/(1 − κ): the floor γε/(1−κ) equals JKO's ε/λ when γ ≤ 1/λ_max(Q).

Cases: one per (d, γ) pair (its own random problem), then ``local_rates`` (deterministic),
``stability`` and ``inexact`` (one random 2-D problem each); the reduction takes the maxima.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from experiments._api import Check, ratio_check
from experiments._cases import Case, run_cases
from experiments._plotting import (
    BOUND_STYLE,
    fmt,
    legend_outside,
    new_figure,
    plain_log_ticks,
    ratio_axis,
    save,
    seed_colors,
    slack_axis,
    slack_points,
)
from theory import bounds, gaussian
from theory.gaussian import (
    GaussianPath,
    fb_fixed_point,
    fb_step,
    inexact_step,
    iterate_steps,
    prox_residual,
    random_rotation,
)

CLAIMS = ("C14",)
TITLE = "Forward-backward scheme vs JKO: fixed point, contraction, stability limit, inexact steps"
STOCHASTIC = True  # the random rotations, means and starts are drawn from config.seed


@dataclass(frozen=True)
class Config:
    """Grid of the experiment."""

    dims: tuple[int, ...] = (2, 10)
    q_range: tuple[float, float] = (0.5, 2.0)  # eigenvalues of Q = C^{-1}
    gamma_fracs: tuple[float, ...] = (0.05, 0.2, 0.5, 0.8, 0.95, 0.99)  # γ = frac·2/λmax(Q)
    n_steps: int = 60
    eps_grid: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1)
    stability_gammas: int = 25
    seed: int = 0

    @classmethod
    def quick(cls) -> Config:
        return cls(dims=(2,), gamma_fracs=(0.2, 0.5, 0.95), n_steps=40, eps_grid=(1e-3, 1e-1),
                   stability_gammas=12)

    @classmethod
    def full(cls) -> Config:
        return cls()


def _problem(d: int, cfg: Config, rng: np.random.Generator):
    q_eigs = np.exp(np.linspace(*np.log(cfg.q_range), d)) if d > 1 else np.array([cfg.q_range[0]])
    u = random_rotation(rng, d)
    c = (u / q_eigs) @ u.T
    b = rng.standard_normal(d)
    a = rng.standard_normal((d, d))
    return b, c, q_eigs, u, b + 2.0 * rng.standard_normal(d), a @ a.T / d + 0.3 * np.eye(d)


def _run_pair(d, frac, cfg, rng) -> dict:
    b, c, q_eigs, u, m0, s0 = _problem(d, cfg, rng)
    lam, big = q_eigs.min(), q_eigs.max()
    gamma = frac * 2.0 / big
    kappa = max(abs(1 - gamma * lam), abs(1 - gamma * big))
    bs, cs = fb_fixed_point(gamma=gamma, target_mean=b, target_cov=c)  # = q iff γ ≤ 1/λmax(Q)
    tkw = {"gamma": gamma, "target_mean": b, "target_cov": c}
    fb = iterate_steps(m0, s0, cfg.n_steps, lambda k, m, s: fb_step(m, s, **tkw))
    jko = iterate_steps(m0, s0, cfg.n_steps, lambda k, m, s: gaussian.jko_step(m, s, **tkw))
    w_fb = GaussianPath(*fb, gammas=np.full(cfg.n_steps, gamma), target_mean=bs,
                        target_cov=cs).w2_to_target()
    w_j = GaussianPath(*jko, gammas=np.full(cfg.n_steps, gamma), target_mean=b,
                       target_cov=c).w2_to_target()
    m_long, s_long = fb[0][-1], fb[1][-1]
    for _ in range(2000):  # iterate to the numerical limit to test the predicted fixed point
        m_long, s_long = fb_step(m_long, s_long, gamma=gamma, target_mean=b, target_cov=c)
    ok = w_fb[:-1] > 1e-6 * w_fb[0]  # float floor of the non-isotropic target (see C2)
    okj = w_j[:-1] > 1e-6 * w_j[0]
    # fixed point: one step from q itself
    mf, sf = fb_step(b, c, gamma=gamma, target_mean=b, target_cov=c)
    mj, sj = gaussian.jko_step(b, c, gamma=gamma, target_mean=b, target_cov=c)
    return {"d": d, "gamma": gamma, "frac": frac, "kappa": kappa, "lam": float(lam),
            "unbiased_regime": bool(gamma * big <= 1.0),
            "fb_limit_vs_pred": float(np.abs(s_long - cs).max() / np.abs(cs).max()
                                      + np.abs(m_long - bs).max()),
            "fb_bias_w2": gaussian.w2(bs, cs, b, c),
            "w_fb": w_fb, "w_jko": w_j,
            "ratio_fb": float((w_fb[1:][ok] / w_fb[:-1][ok]).max() / kappa),
            "ratio_jko": float((w_j[1:][okj] / w_j[:-1][okj]).max()
                               / bounds.w2_contraction_factor(gamma, lam)),
            "fixed_point_fb": gaussian.w2(mf, sf, b, c),
            "fixed_point_jko": gaussian.w2(mj, sj, b, c)}


def _local_rates(cfg: Config) -> list[dict]:
    """Diagonal Q: exact 1-D recursions per coordinate; factors measured in the linear regime."""
    q = np.array([cfg.q_range[0], 1.0, cfg.q_range[1]])
    c = np.diag(1.0 / q)
    rows = []
    for frac in cfg.gamma_fracs:
        gamma = frac * 2.0 / q.max()
        _, cstar = fb_fixed_point(gamma=gamma, target_mean=np.zeros(3), target_cov=c)
        q_eff = 1.0 / np.diag(cstar)  # the FB std fixed point is 1/sqrt(q_eff)
        m, s = np.array([1.0, -1.0, 0.5]), np.diag([2.0, 0.5, 1.5])
        traj_m, traj_s = [m], [np.sqrt(np.diag(s))]
        for _ in range(400):
            m, s = fb_step(m, s, gamma=gamma, target_mean=np.zeros(3), target_cov=c)
            traj_m.append(m)
            traj_s.append(np.sqrt(np.diag(s)))
        tm, ts = np.array(traj_m), np.array(traj_s) - 1.0 / np.sqrt(q_eff)
        for i, qi in enumerate(q):
            win = np.nonzero((np.abs(ts[:-1, i]) < 1e-6) & (np.abs(ts[:-1, i]) > 1e-9))[0]
            rows.append({"gamma": gamma, "q": float(qi),
                         "mean_measured": float(abs(tm[1, i] / tm[0, i])),
                         "mean_pred": abs(1 - gamma * qi),
                         # γq_i = 1 converges in one step: no linear regime to measure
                         "std_measured": float(abs(ts[win[-1] + 1, i] / ts[win[-1], i]))
                         if win.size else None,
                         "std_pred": abs(1 - gamma * qi) / (2 - abs(1 - gamma * qi))})
    return rows


def _stability(cfg: Config, rng) -> dict:
    b, c, q_eigs, u, m0, s0 = _problem(2, cfg, rng)
    gammas = np.linspace(0.1, 3.0, cfg.stability_gammas) * (1.0 / q_eigs.max())
    out_fb, out_j = [], []
    for g in gammas:
        m, s, mj, sj = m0, s0, m0, s0
        for _ in range(30):
            m, s = fb_step(m, s, gamma=g, target_mean=b, target_cov=c)
            mj, sj = gaussian.jko_step(mj, sj, gamma=g, target_mean=b, target_cov=c)
        out_fb.append(gaussian.w2(m, s, b, c))
        out_j.append(gaussian.w2(mj, sj, b, c))
    return {"gammas": gammas, "limit": 2.0 / q_eigs.max(), "w30_fb": out_fb, "w30_jko": out_j,
            "w0": gaussian.w2(m0, s0, b, c)}


def _inexact(cfg: Config, rng) -> dict:
    b, c, q_eigs, u, m0, s0 = _problem(2, cfg, rng)
    lam, big = q_eigs.min(), q_eigs.max()
    gamma = 0.5 / big
    kappa = max(abs(1 - gamma * lam), abs(1 - gamma * big))
    wc, uc = np.linalg.eigh(c)
    away = uc[:, -1] * np.sign(uc[:, -1] @ (m0 - b) or 1.0)  # slowest direction, away from b
    rows, worst, res_err = [], 0.0, 0.0
    n = 4 * cfg.n_steps
    for eps in cfg.eps_grid:
        m, s, mj, sj = m0, s0, m0, s0
        w_fb, w_j = [gaussian.w2(m, s, b, c)], [gaussian.w2(mj, sj, b, c)]
        for _ in range(n):
            mh, sh = gaussian.potential_step(m, s, gamma=gamma, target_mean=b, target_cov=c)
            m1, s1 = fb_step(m, s, gamma=gamma, target_mean=b, target_cov=c, eps=eps,
                             direction=away)
            res_err = max(res_err, abs(prox_residual(mh, sh, m1, s1, gamma) / eps - 1.0))
            m, s = m1, s1
            mj, sj = inexact_step(mj, sj, gamma=gamma, eps=eps, target_mean=b, target_cov=c)
            w_fb.append(gaussian.w2(m, s, b, c))
            w_j.append(gaussian.w2(mj, sj, b, c))
        k = np.arange(n + 1)
        bound_fb = kappa**k * w_fb[0] + gamma * eps * (1 - kappa**k) / (1 - kappa)
        bound_j = bounds.w2_multi_step(k, gamma, lam, w_j[0], eps)
        worst = max(worst, float(np.max(np.array(w_fb) / bound_fb)))
        rows.append({"eps": eps, "w_fb": w_fb, "w_jko": w_j, "floor_fb": gamma * eps / (1 - kappa),
                     "floor_jko": eps / lam,
                     "jko_ratio": float(np.max(np.array(w_j) / bound_j))})
    return {"gamma": gamma, "kappa": kappa, "lam": float(lam), "rows": rows,
            "worst_ratio_fb": worst, "prox_residual_rel_err": res_err}


def cases(cfg: Config) -> list[Case]:
    """One case per (d, γ) pair, then the local rates, the stability sweep, the inexact steps."""
    # cost: Gaussian steps and distances (FB, JKO and W2 per step; then 2000 FB steps)
    pair_cost = 4 * cfg.n_steps + 2000
    return [*(Case(f"d={d},frac={f:g}", {"part": "pair", "d": d, "frac": f}, pair_cost)
              for d, f in itertools.product(cfg.dims, cfg.gamma_fracs)),
            Case("local_rates", {"part": "local_rates"}, 400 * len(cfg.gamma_fracs)),
            Case("stability", {"part": "stability"}, 60 * cfg.stability_gammas),
            Case("inexact", {"part": "inexact"}, 40 * cfg.n_steps * len(cfg.eps_grid))]


def run_case(cfg: Config, case: Case) -> dict | list[dict]:
    """One case; each random problem draws from its own generator seeded by (seed, case)."""
    p = case.params
    if p["part"] == "pair":
        rng = np.random.default_rng([cfg.seed, 1, p["d"], round(1e4 * p["frac"])])
        return _run_pair(p["d"], p["frac"], cfg, rng)
    if p["part"] == "local_rates":
        return _local_rates(cfg)
    if p["part"] == "stability":
        return _stability(cfg, np.random.default_rng([cfg.seed, 2]))
    return _inexact(cfg, np.random.default_rng([cfg.seed, 3]))


def reduce(cfg: Config, results: dict) -> dict:
    pairs = [results[c.key] for c in cases(cfg) if c.params["part"] == "pair"]
    lr = results["local_rates"]
    return {
        "pairs": pairs,
        "worst_ratio_fb": max(p["ratio_fb"] for p in pairs),
        "worst_ratio_jko": max(p["ratio_jko"] for p in pairs),
        "fixed_point_max_unbiased": max(
            max(p["fixed_point_fb"], p["fixed_point_jko"]) for p in pairs if p["unbiased_regime"]),
        "fixed_point_max_jko": max(p["fixed_point_jko"] for p in pairs),
        "fb_bias_max": max(p["fb_bias_w2"] for p in pairs),
        "fb_limit_vs_pred_max": max(p["fb_limit_vs_pred"] for p in pairs),
        "local_rates": lr,
        "local_rate_rel_err": max(
            max(abs(r["mean_measured"] / r["mean_pred"] - 1) if r["mean_pred"] > 0 else 0.0,
                abs(r["std_measured"] / r["std_pred"] - 1) if r["std_measured"] else 0.0)
            for r in lr),
        "stability": results["stability"],
        "inexact": results["inexact"],
    }


def run(cfg: Config) -> dict:
    return run_cases(cfg, cases, run_case, reduce)


def checks(r: dict) -> list[Check]:
    ps = r["pairs"]
    g = (f"d ∈ {sorted({p['d'] for p in ps})}, target N(b,C) with Q eigenvalues in "
         f"[0.5, 2], γ = frac·2/λmax(Q), frac ∈ {sorted({p['frac'] for p in ps})}")
    st = r["stability"]
    fb_last = np.asarray(st["w30_fb"], dtype=float)
    gam = np.asarray(st["gammas"])
    unstable_ok = bool(np.all(fb_last[gam > 1.05 * st["limit"]] > st["w0"]))
    jko_ok = bool(np.all(np.asarray(st["w30_jko"]) < st["w0"]))
    inx = r["inexact"]
    fpu, fpj = r["fixed_point_max_unbiased"], r["fixed_point_max_jko"]
    return [
        Check("C14", "fixed point q: JKO for every γ, FB for γ ≤ 1/λmax(Q) (one step from q)",
              g, max(fpu, fpj), 1e-12, max(fpu, fpj) <= 1e-12, "fixed_point_max_unbiased",
              "equality", "max W2(step(q), q)"),
        Check("C14", "finding: for 1/λmax < γ < 2/λmax FB converges to the biased "
              "N(b, U diag(v_i) Uᵀ) ≠ q, v_i = γ/(2−γq_i) where γq_i > 1, v_i = 1/q_i where "
              "γq_i ≤ 1", g, r["fb_limit_vs_pred_max"], 1e-10,
              r["fb_limit_vs_pred_max"] <= 1e-10, "fb_limit_vs_pred_max", "equality",
              f"measured: 2000 FB steps reach the predicted fixed point (max error shown); the "
              f"bias W2(q*_γ, q) reaches {r['fb_bias_max']:.3g}. FB is unbiased for Gaussians "
              "only under the step restriction γ ≤ 1/L"),
        ratio_check("C14", "FB: W2(ρ_{n+1},q*_γ) ≤ κ W2(ρ_n,q*_γ), κ = max_i|1 − γq_i| "
                    "(γ < 2/λmax)", g, r["worst_ratio_fb"], "worst_ratio_fb",
                    detail="forward step κ-Lipschitz, entropy prox W2-nonexpansive [D]; "
                           "q*_γ = q for γ ≤ 1/λmax"),
        ratio_check("C14", "JKO beside it: W_{n+1}/W_n ≤ 1/(1+γλ)", g, r["worst_ratio_jko"],
                    "worst_ratio_jko"),
        Check("C14", "local rates: FB means |1−γq_i|, stds a_i/(2−a_i), a_i = |1−γq_i|",
              "diagonal Q, q ∈ {0.5, 1, 2}, γ grid", r["local_rate_rel_err"], 1e-5,
              r["local_rate_rel_err"] <= 1e-5, "local_rate_rel_err", "equality",
              "max relative error, measured in the linear regime |σ−1/√q| ∈ [1e-9, 1e-6]"),
        Check("C14", "stability limit: FB diverges for γ > 2/λmax(Q); JKO contracts for all γ",
              f"{len(gam)} step sizes in [0.1, 3]/λmax, 30 steps", float(unstable_ok and jko_ok),
              1.0, unstable_ok and jko_ok, "stability", "info",
              "1 = W_30 > W_0 for every γ > 1.05·2/λmax (FB) and W_30 < W_0 for every γ (JKO)"),
        ratio_check("C14", "inexact prox (residual ε): W_n ≤ κⁿW_0 + γε(1−κⁿ)/(1−κ)",
                    f"γ = 0.5/λmax, ε ∈ {[row['eps'] for row in inx['rows']]}, "
                    f"{len(inx['rows'][0]['w_fb']) - 1} steps", inx["worst_ratio_fb"],
                    "inexact.worst_ratio_fb",
                    detail=f"prox residual realised to {inx['prox_residual_rel_err']:.1e} "
                           "relative; floor γε/(1−κ) = ε/λ here, as for JKO (C4)"),
    ]


def _style_keys(ax) -> None:
    """Legend proxies: solid = forward-backward, dotted = JKO (colours are given per line)."""
    ax.plot([], [], "-", lw=1.4, color="0.3", label="forward-backward (FB)")
    ax.plot([], [], ":", lw=1.6, color="0.3", label="JKO")


def plot(r: dict, path) -> None:
    fig, ax = new_figure(2, 3, height=4.0)
    ps = [p for p in r["pairs"] if p["d"] == r["pairs"][0]["d"]]
    ps = ps[:: max(1, len(ps) // 3)]
    cols = seed_colors(len(ps))
    a, ar = ax[0, 0], ax[1, 0]
    for i, p in enumerate(ps):
        w_fb, w_j = np.asarray(p["w_fb"]), np.asarray(p["w_jko"])
        n = np.arange(w_fb.size)
        a.semilogy(n, w_fb, "-", lw=1.4, color=cols[i],
                   label=f"γ = {fmt(p['frac'], 2)} · 2/λmax(Q)")
        a.semilogy(n, w_j, ":", lw=1.6, color=cols[i])
        ok, okj = w_fb[:-1] > 1e-6 * w_fb[0], w_j[:-1] > 1e-6 * w_j[0]
        ar.plot(n[1:][ok], w_fb[1:][ok] / w_fb[:-1][ok] / p["kappa"], "-", lw=1.4,
                color=cols[i], label=f"γ = {fmt(p['frac'], 2)} · 2/λmax(Q)")
        ar.plot(n[1:][okj], w_j[1:][okj] / w_j[:-1][okj]
                / bounds.w2_contraction_factor(p["gamma"], p["lam"]), ":", lw=1.6,
                color=cols[i])
    for i, p in enumerate(ps):
        n = np.arange(len(p["w_fb"]))
        a.semilogy(n, p["w_fb"][0] * p["kappa"] ** n, **BOUND_STYLE,
                   label="bound for FB: κⁿ W2(ρ_0, q*_γ)" if i == 0 else None)
    _style_keys(a)
    _style_keys(ar)
    a.set(xlabel="step n", ylabel="W2(ρ_n, fixed point) (not squared)",
          title=f"(a) Convergence (C14), d = {ps[0]['d']}: to q*_γ (FB),\nto q (JKO)")
    legend_outside(a, where="below", ncol=1)
    ratio_axis(ar, "Wₙ₊₁/Wₙ / bound factor")
    plain_log_ticks(ar)
    ar.set(xlabel="step n", title="(d) One-step contraction of (a) as measured/\n"
                                  "bound: factor κ (FB), 1/(1+γλ) (JKO)")
    legend_outside(ar, where="below", ncol=1)

    st = r["stability"]
    gam = np.asarray(st["gammas"])
    a = ax[0, 1]
    a.semilogy(gam, st["w30_fb"], "o-", ms=4, label="forward-backward (FB)")
    a.semilogy(gam, st["w30_jko"], "s-", ms=4, label="JKO")
    a.axvline(st["limit"], color="0.3", ls="-.", lw=1.2, label="γ = 2/λmax(Q): FB unstable beyond")
    a.axvline(st["limit"] / 2, color="0.3", ls=":", lw=1.2,
              label="γ = 1/λmax(Q): FB biased beyond")
    a.axhline(st["w0"], color="0.6", lw=1, label="W2(ρ_0, q)")
    a.set(xlabel=f"step size γ (λmax(Q) = {fmt(2 / st['limit'])})",
          ylabel="W2(ρ_30, q) (not squared)",
          title="(b) Stability limit of the explicit step\n(C14), after 30 steps")
    legend_outside(a, where="below", ncol=1)

    inx = r["inexact"]
    k, g, lam = inx["kappa"], inx["gamma"], inx["lam"]
    ecols = seed_colors(len(inx["rows"]))
    a, asl = ax[0, 2], ax[1, 1]
    for i, row in enumerate(inx["rows"]):
        w_fb = np.asarray(row["w_fb"])
        n = np.arange(w_fb.size)
        bound = k**n * w_fb[0] + g * row["eps"] * (1 - k**n) / (1 - k)
        a.semilogy(n, w_fb, "-", lw=1.4, color=ecols[i], label=f"ε = {fmt(row['eps'])}")
        a.semilogy(n, row["w_jko"], ":", lw=1.6, color=ecols[i])
        a.semilogy(n, bound, **BOUND_STYLE,
                   label="bound for FB: κⁿW₀ + γε(1−κⁿ)/(1−κ)" if i == 0 else None)
        slack_points(asl, n[1:], w_fb[1:] / bound[1:], color=ecols[i], lw=1.4,
                     label=f"ε = {fmt(row['eps'])}")
    _style_keys(a)
    a.set(xlabel="step n", ylabel="W2(ρ_n, q) (not squared)",
          title=f"(c) Inexact prox steps (C14), γ = {fmt(g)};\n"
                f"floor γε/(1−κ) = ε/λ, λ = {fmt(lam)}")
    legend_outside(a, where="below", ncol=2)
    slack_axis(asl)
    asl.set(xlabel="step n", title="(e) How tight the FB bound of (c) is:\n"
                                   "attained once ε dominates")
    legend_outside(asl, where="below", ncol=2)

    a = ax[1, 2]
    lr = r["local_rates"]
    a.loglog([x["mean_pred"] for x in lr], [x["mean_measured"] for x in lr], "o", ms=5,
             label="means, predicted |1 − γq_i|")
    std = [x for x in lr if x["std_measured"]]
    a.loglog([x["std_pred"] for x in std], [x["std_measured"] for x in std], "s", ms=6,
             mfc="none", label="standard deviations,\npredicted a_i/(2 − a_i), a_i = |1 − γq_i|")
    vals = [x["mean_pred"] for x in lr if x["mean_pred"] > 0] + [x["std_pred"] for x in std]
    lo = min(vals) * 0.8
    a.loglog([lo, 1], [lo, 1], "-", lw=0.8, color="0.4", label="measured = predicted")
    a.set(xlabel="predicted contraction factor per step",
          ylabel="measured contraction factor per step",
          title="(f) Local rates of FB, diagonal Q\n"
                f"(largest relative error {fmt(r['local_rate_rel_err'], 2)})")
    legend_outside(a, where="below", ncol=1)
    save(fig, path)
