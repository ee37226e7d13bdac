"""Data without density: singular Gaussians, OU smoothing, and the mixed W2/KL guarantee.

Claim C10 (docs/theory.md A-δ, R6; docs/numerics.md §2.5). Data P = N(m, Σ_P) with Σ_P singular:
a line in R² (rank 1) and a 3-dim subspace of R^10. Everything is exact (Gaussian closed forms):

- R6(a): W2(P, ρ_δ) ≤ √((1 − e^{−δ})² M₂(P) + (1 − e^{−2δ}) d), ρ_δ the OU law at time δ;
- R6(b): W2(ρ_δ, q) ≤ e^{−δ} W2(P, q);
- the exact JKO step taken directly from the singular P is well defined and obeys the gap bound
  KL(ρ_1‖q) ≤ W2(P,q)²/(2γ(2+γλ)) although KL(P‖q) = ∞ (C5 from a singular start);
- mixed guarantee over a (δ, ε) grid: the flow of N(ε) inexact blocks from ρ_δ, generation
  q̂ = (F^{-1})_# N(0, I); tested: KL(ρ_δ‖q̂) ≤ C(γ,λ)ε² (T4), and two W2 bounds on W2(P, q̂):
  (A) W2(P, ρ_δ) + √(2 KL(ρ_δ‖q̂)/λ_q̂) (triangle + Talagrand for q̂, λ_q̂ = σ_min(M_F)²), and
  (B) the a-priori ou_smoothing_w2(δ) + Lip(F^{-1})·[(1+γλ)^{−N}W2(ρ_δ,q) + ε/λ] (R6, optional
  form). The trade-off: W2(P, q̂) cannot go below the smoothing error ~√(2δd), nor below ~ε.

Cases: one per data law (``line``, ``subspace``: smoothing rows, singular steps, the (δ, ε)
grid); the reduction takes the maxima.
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
)
from theory import bounds, gaussian
from theory.gaussian import build_affine_flow, inexact_trajectory

CLAIMS = ("C10",)
TITLE = "Data without density: OU smoothing bounds, JKO from singular data, mixed W2/KL guarantee"
STOCHASTIC = True  # the subspace of R^10 and its mean are drawn from config.seed


@dataclass(frozen=True)
class Config:
    """Grid of the experiment."""

    deltas: tuple[float, ...] = tuple(np.logspace(-4, 0, 9).tolist())
    eps_grid: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4)
    gamma: float = 1.0
    step_gammas: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0)
    seed: int = 0

    @classmethod
    def quick(cls) -> Config:
        return cls(deltas=(1e-4, 1e-2, 1.0), eps_grid=(1e-1, 1e-3))

    @classmethod
    def full(cls) -> Config:
        return cls()


def _datasets(rng: np.random.Generator) -> dict[str, dict]:
    """The singular data laws by case key (the subspace and the mean of R^10 are random)."""
    v = np.array([2.0, 1.0]) / np.sqrt(5.0)
    line = {"name": "line in R²", "mean": np.array([1.0, -0.5]), "cov": 4.0 * np.outer(v, v)}
    u, _ = np.linalg.qr(rng.standard_normal((10, 3)))
    sub = {"name": "3-dim subspace of R^10", "mean": rng.standard_normal(10) / np.sqrt(10),
           "cov": (u * np.array([4.0, 2.0, 1.0])) @ u.T}
    return {"line": line, "subspace": sub}


def _smoothing(ds: dict, deltas) -> list[dict]:
    m, c = ds["mean"], ds["cov"]
    d = len(m)
    m2 = float(m @ m + np.trace(c))
    w_pq = gaussian.w2(m, c)
    rows = []
    for de in deltas:
        md, cd = gaussian.ou_marginal(m, c, t=de)
        w_p = gaussian.w2(m, c, md, cd)
        rows.append({"delta": de, "w2_p_rho": w_p,
                     "bound_a": float(bounds.ou_smoothing_w2(de, m2, d)),
                     "w2_rho_q": gaussian.w2(md, cd),
                     "bound_b": float(bounds.ou_contraction(de, w_pq))})
    return rows


def _singular_step(ds: dict, gammas) -> list[dict]:
    m, c = ds["mean"], ds["cov"]
    w0 = gaussian.w2(m, c)
    out = []
    for g in gammas:
        m1, c1 = gaussian.jko_step(m, c, gamma=g)
        kl1 = gaussian.kl(m1, c1)
        out.append({"gamma": g, "kl0": gaussian.kl(m, c), "kl1": kl1,
                    "ratio": kl1 / float(bounds.gap_one_step(w0, g, 1.0)),
                    "min_eig_rho1": float(np.linalg.eigvalsh(c1).min())})
    return out


def _mixed(ds: dict, delta: float, eps: float, gamma: float) -> dict:
    m, c = ds["mean"], ds["cov"]
    d = len(m)
    m2 = float(m @ m + np.trace(c))
    md, cd = gaussian.ou_marginal(m, c, t=delta)
    w0 = gaussian.w2(md, cd)
    n = bounds.n_blocks_required(w0, eps, gamma, 1.0)
    tr = inexact_trajectory(md, cd, gamma=gamma, eps=eps, n_steps=n, kind="mean")
    flow = build_affine_flow(md, cd, gammas=np.full(n, gamma),
                      step=lambda mu, sig, k: (tr.means[k], tr.covs[k]))
    f = flow.forward_map()
    mq, cq = flow.generated_law()
    kl_gen = gaussian.kl(md, cd, mq, cq)
    w_p_qhat = gaussian.w2(m, c, mq, cq)
    w_p_rho = gaussian.w2(m, c, md, cd)
    lam_q = float(np.linalg.svd(f.matrix, compute_uv=False).min() ** 2)
    lip_inv = f.inverse().lipschitz()
    bound_a = w_p_rho + np.sqrt(2.0 * kl_gen / lam_q)
    bound_b = float(bounds.ou_smoothing_w2(delta, m2, d)) + lip_inv * float(
        bounds.w2_multi_step(n, gamma, 1.0, w0, eps))
    cst = float(bounds.kl_guarantee_constant(gamma, 1.0))
    return {"delta": delta, "eps": eps, "N": n, "kl_rho_qhat": kl_gen,
            "kl_ratio": kl_gen / (cst * eps * eps), "w2_p_qhat": w_p_qhat,
            "w2_p_rho": w_p_rho, "bound_a": bound_a, "bound_b": bound_b,
            "lip_inv": lip_inv, "ratio_a": w_p_qhat / bound_a, "ratio_b": w_p_qhat / bound_b}


def cases(cfg: Config) -> list[Case]:
    """One case per data law (the same closed-form solves for each)."""
    return [Case(key, {"dataset": key}) for key in _datasets(np.random.default_rng(cfg.seed))]


def run_case(cfg: Config, case: Case) -> dict:
    """Every row of one data law (the laws are drawn from config.seed, the same in each case)."""
    ds = _datasets(np.random.default_rng(cfg.seed))[case.params["dataset"]]
    grid = list(itertools.product(cfg.deltas, cfg.eps_grid))
    return {"name": ds["name"], "d": len(ds["mean"]),
            "rank": int(np.linalg.matrix_rank(ds["cov"])),
            "smoothing": _smoothing(ds, cfg.deltas),
            "singular_step": _singular_step(ds, cfg.step_gammas),
            "mixed": [_mixed(ds, de, e, cfg.gamma) for de, e in grid]}


def reduce(cfg: Config, results: dict) -> dict:
    out = [results[c.key] for c in cases(cfg)]
    allm = [x for o in out for x in o["mixed"]]
    alls = [x for o in out for x in o["smoothing"]]
    allj = [x for o in out for x in o["singular_step"]]
    return {
        "gamma": cfg.gamma, "datasets": out,
        "worst_smoothing_a": max(x["w2_p_rho"] / x["bound_a"] for x in alls),
        "worst_contraction_b": max(x["w2_rho_q"] / x["bound_b"] for x in alls),
        "worst_singular_gap": max(x["ratio"] for x in allj),
        "max_kl1_singular": max(x["kl1"] for x in allj),
        "worst_kl_ratio": max(x["kl_ratio"] for x in allm),
        "worst_mixed_a": max(x["ratio_a"] for x in allm),
        "worst_mixed_b": max(x["ratio_b"] for x in allm),
    }


def run(cfg: Config) -> dict:
    return run_cases(cfg, cases, run_case, reduce)


def checks(r: dict) -> list[Check]:
    ds = r["datasets"]
    sm = ds[0]["smoothing"]
    g = (f"{', '.join(x['name'] for x in ds)}; δ ∈ [{sm[0]['delta']:g}, {sm[-1]['delta']:g}] "
         f"({len(sm)} values)")
    eps = sorted({x["eps"] for x in ds[0]["mixed"]})
    gm = g + f" × ε ∈ {eps}, γ = {r['gamma']}, N(ε) = ⌈1 + log(W_0/ε)/log(1+γ)⌉"
    return [
        ratio_check("C10", "W2(P,ρ_δ) ≤ √((1−e^{−δ})²M₂ + (1−e^{−2δ})d)", g,
                    r["worst_smoothing_a"],
                    "worst_smoothing_a", detail="exact Bures W2 between singular P and ρ_δ"),
        ratio_check("C10", "W2(ρ_δ,q) ≤ e^{−δ} W2(P,q) (OU contraction)", g,
                    r["worst_contraction_b"], "worst_contraction_b"),
        ratio_check("C10", "JKO step from singular P: KL(ρ_1‖q) ≤ W2(P,q)²/(2γ(2+γ)), KL(P‖q) = ∞",
                    f"{', '.join(x['name'] for x in ds)}; γ ∈ "
                    f"{[x['gamma'] for x in ds[0]['singular_step']]}", r["worst_singular_gap"],
                    "worst_singular_gap",
                    detail=f"ρ_1 has a density (zero eigenvalues ↦ γ/(1+γ)); KL(ρ_1‖q) ≤ "
                           f"{r['max_kl1_singular']:.3g}"),
        ratio_check("C10", "mixed guarantee, KL part: KL(ρ_δ‖q̂) ≤ C(γ,λ)ε²", gm,
                    r["worst_kl_ratio"], "worst_kl_ratio"),
        ratio_check("C10", "mixed guarantee, W2 part (A): W2(P,q̂) ≤ W2(P,ρ_δ) + √(2KL(ρ_δ‖q̂)/λ_q̂)",
                    gm, r["worst_mixed_a"], "worst_mixed_a",
                    detail="triangle inequality + Talagrand for the Gaussian q̂"),
        ratio_check("C10", "W2 part (B, a priori): W2(P,q̂) ≤ smoothing bound + Lip(F⁻¹)"
                    "[(1+γλ)^{−N}W_0 + ε/λ]", gm, r["worst_mixed_b"], "worst_mixed_b"),
    ]


def _name(ds: dict) -> str:
    """A data law's name for the figure (superscript exponent instead of ``R^10``)."""
    return ds["name"].replace("R^10", "R¹⁰")


def plot(r: dict, path) -> None:
    fig, ax = new_figure(2, 3, height=3.9)
    dcols = seed_colors(len(r["datasets"]))
    a, ar = ax[0, 0], ax[1, 0]
    for i, ds in enumerate(r["datasets"]):
        sm = ds["smoothing"]
        de = np.array([x["delta"] for x in sm])
        a.loglog(de, [x["w2_p_rho"] for x in sm], "o", ms=5, color=dcols[i],
                 label=f"{_name(ds)}: measured")
        a.loglog(de, [x["bound_a"] for x in sm], **BOUND_STYLE,
                 label="bound R6(a): √((1−e⁻ᵟ)²M₂(P) + (1−e⁻²ᵟ)d),\none per data law"
                 if i == 0 else None)
        a.loglog(de, np.sqrt(2 * de * ds["d"]), ":", color=dcols[i], lw=1,
                 label=f"√(2δd), d = {ds['d']}")
        ar.loglog(de, [x["w2_p_rho"] / x["bound_a"] for x in sm], "o-", ms=4, color=dcols[i],
                  label=f"{_name(ds)}: R6(a) W2(P, ρ_δ)")
        ar.loglog(de, [x["w2_rho_q"] / x["bound_b"] for x in sm], "s-.", ms=4, mfc="none",
                  color=dcols[i], label=f"{_name(ds)}: R6(b) W2(ρ_δ, q)")
    a.set(xlabel="OU smoothing time δ", ylabel="W2(P, ρ_δ) (not squared)",
          title="(a) Cost of smoothing singular data P\nby the OU flow for time δ (C10)")
    legend_outside(a, where="below", ncol=1)
    ratio_axis(ar, "measured / bound")
    plain_log_ticks(ar)
    ar.set(xlabel="OU smoothing time δ",
           title="(d) Smoothing bounds as measured/bound:\nR6(a) cost, R6(b) contraction by e⁻ᵟ")
    legend_outside(ar, where="below", ncol=1)

    ds = r["datasets"][-1]
    eps = sorted({x["eps"] for x in ds["mixed"]}, reverse=True)
    ecols = seed_colors(len(eps))
    a = ax[0, 1]
    for j, e in enumerate(eps):
        rows = sorted([x for x in ds["mixed"] if x["eps"] == e], key=lambda x: x["delta"])
        de = [x["delta"] for x in rows]
        a.loglog(de, [x["w2_p_qhat"] for x in rows], "o-", ms=4, color=ecols[j],
                 label=f"measured, ε = {fmt(e)}")
        a.loglog(de, [x["bound_a"] for x in rows], **BOUND_STYLE,
                 label="bound (A), one per ε" if j == 0 else None)
        for a2, key in ((ax[0, 2], "kl_ratio"), (ax[1, 1], "ratio_a"), (ax[1, 2], "ratio_b")):
            a2.loglog(de, [x[key] for x in rows], "o-", ms=4, color=ecols[j],
                      label=f"ε = {fmt(e)}")
    a.set(xlabel="OU smoothing time δ", ylabel="W2(P, q̂) (not squared)",
          title=f"(b) Smoothing-accuracy trade-off (C10),\n{_name(ds)}")
    legend_outside(a, where="below", ncol=2)
    for a2, lab, title in (
            (ax[0, 2], "KL(ρ_δ‖q̂) / (C(γ,λ)ε²)",
             "(c) KL part of the guarantee (C10):\nKL(ρ_δ‖q̂) ≤ C(γ,λ)ε², runs of (b)"),
            (ax[1, 1], "W2(P, q̂) / bound (A)",
             "(e) W2 bound (A): W2(P, ρ_δ) + √(2KL/λ_q̂),\nruns of (b)"),
            (ax[1, 2], "W2(P, q̂) / bound (B)",
             "(f) W2 bound (B): a priori R6 form,\nruns of (b)")):
        ratio_axis(a2, lab)
        plain_log_ticks(a2)
        a2.set(xlabel="OU smoothing time δ", title=title)
        legend_outside(a2, where="below", ncol=3)
    save(fig, path)
