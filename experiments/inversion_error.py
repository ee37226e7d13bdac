"""Inversion errors in the reverse pass of an exact affine JKO flow.

Claims C9, C11 (docs/theory.md L1, R7; docs/numerics.md §2.5).

Exact blocks T_n (Brenier maps of exact Gaussian JKO steps from P = N(m, Σ) with large variance,
so the inverses *expand*) and approximate inverses S_n ≈ T_n^{-1}:

- ``shift``: S_n = T_n^{-1} + δ·v_n (|v_n| = 1, random), so δ_n = ‖S_n∘T_n − Id‖_{L²(ρ_{n−1})} = δ;
- ``matrix``: S_n(y) = T_n^{-1}(y) + δ·E_n(y − m_n), E_n random with ‖E_n‖_F = 1 (δ_n exact);
- ``sine`` (nonlinear, Lipschitz δω): S_n = T_n^{-1} + δ·sin(ω⟨a_n, ·⟩)v_n, by Monte Carlo.

Tested chain (R7(b)): W2(P, (S∘T)_#P) ≤ ‖S∘T − Id‖_{L²(P)} ≤ Σ_n Lip(S_1∘…∘S_{n−1}) δ_n. For the
affine kinds every term is exact (Gaussian W2, affine L² distances, operator norms). For ``sine``
W2 is estimated with POT's exact OT (``ot.emd2``) between independent samples, and the sample-size
floor (same estimator on two independent samples of P) is reported beside it. KL part (L1):
KL(S_#ρ_N ‖ S_#q) = KL(ρ_N‖q) for invertible affine S, and ≤ for a non-invertible S (a projection
onto k < d coordinates).

Cases: the affine flows of one (d, γ) (every N, kind, δ); the projections of one d; the aligned
shifts of one d; one nonlinear ``sine`` flow per (N, δ). Each draws from its own generator
seeded by (seed, case); the reduction takes the maxima.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import ot
from matplotlib.ticker import NullFormatter

from experiments._api import Check, ratio_check
from experiments._cases import Case, run_cases
from experiments._plotting import (
    BOUND_STYLE,
    fmt,
    legend_outside,
    new_figure,
    ratio_axis,
    save,
    seed_colors,
)
from theory import bounds, gaussian
from theory.gaussian import (
    AffineMap,
    build_affine_flow,
    compose_inverse,
    lip_prefixes,
    spd_with_eigs,
)

CLAIMS = ("C9", "C11")
TITLE = "Inversion errors: W2(P,(S∘T)_#P) vs ‖S∘T−Id‖ vs the telescoping Lipschitz bound"
STOCHASTIC = True  # random data, perturbations and Monte Carlo samples drawn from config.seed


@dataclass(frozen=True)
class Config:
    """Grid of the experiment."""

    dims: tuple[int, ...] = (2, 10)
    gammas: tuple[float, ...] = (0.5, 1.0)
    n_blocks: tuple[int, ...] = (1, 2, 4, 8, 16)
    deltas: tuple[float, ...] = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    kinds: tuple[str, ...] = ("shift", "matrix")
    mc_samples: int = 1500
    mc_deltas: tuple[float, ...] = (0.03, 0.1, 0.3)
    sine_omega: float = 2.0
    seed: int = 0

    @classmethod
    def quick(cls) -> Config:
        return cls(dims=(2,), n_blocks=(1, 4, 8), deltas=(1e-5, 1e-3, 1e-1), mc_samples=600,
                   mc_deltas=(0.1, 0.3))

    @classmethod
    def full(cls) -> Config:
        return cls()


def _data(d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    w = np.exp(rng.uniform(np.log(2.0), np.log(25.0), d))  # variance > 1: inverses expand
    return 3.0 * rng.standard_normal(d) / np.sqrt(d), spd_with_eigs(rng, w)


def _perturbed_inverses(flow, kind: str, delta: float, rng: np.random.Generator):
    """Affine S_n and the exact δ_n = ‖S_n∘T_n − Id‖_{L²(ρ_{n−1})}."""
    d = flow.means.shape[1]
    s_list, dn = [], []
    for n, t in enumerate(flow.blocks, 1):
        inv = t.inverse()
        if kind == "shift":
            v = rng.standard_normal(d)
            s = AffineMap(inv.matrix, inv.offset + delta * v / np.linalg.norm(v))
        else:
            e = rng.standard_normal((d, d))
            e *= delta / np.linalg.norm(e)
            # S(y) = T^{-1}(y) + E(y − m_n)
            s = AffineMap(inv.matrix + e, inv.offset - e @ flow.means[n])
        s_list.append(s)
        dn.append(t.then(s).l2_distance(AffineMap.identity(d), flow.means[n - 1],
                                        flow.covs[n - 1]))
    return s_list, np.array(dn)


def _affine_case(d, gamma, n_blocks, kind, delta, rng) -> dict:
    m0, s0 = _data(d, rng)
    flow = build_affine_flow(m0, s0, gammas=np.full(n_blocks, gamma))
    s_list, dn = _perturbed_inverses(flow, kind, delta, rng)
    big_s = compose_inverse(s_list)
    f = flow.forward_map()
    u = f.then(big_s)  # S∘T
    m_u, c_u = u.push(m0, s0)
    w2 = gaussian.w2(m0, s0, m_u, c_u)
    l2 = u.l2_distance(AffineMap.identity(d), m0, s0)
    lips = lip_prefixes(s_list)
    tele = bounds.inversion_telescoping(lips, dn)
    # KL part: invertible S -> equality; q̃ = S_#q, p̃ = S_#ρ_N
    mq, cq = big_s.push(flow.target_mean, flow.target_cov)
    mp, cp = big_s.push(flow.means[-1], flow.covs[-1])
    kl_s = gaussian.kl(mp, cp, mq, cq)
    kl_n = flow.kl_forward()
    return {"d": d, "gamma": gamma, "N": n_blocks, "kind": kind, "delta": delta,
            "w2": w2, "l2": l2, "telescoping": tele, "lip_max": float(lips.max()),
            "kl_pushed": kl_s, "kl_forward": kl_n,
            "kl_rel_diff": abs(kl_s - kl_n) / max(kl_n, 1e-300)}


def _aligned_shift_case(d: int, gamma: float, n_blocks: int, delta: float,
                        rng: np.random.Generator) -> dict:
    """The telescoping bound attained: ρ_0 = N(m_0, I) toward q = N(0, I).

    Every exact block is a translation (covariance stays I), so Lip(S_1∘…∘S_{n−1}) = 1, and
    inverse errors δ·v along one fixed unit v add up: S∘T − Id = Nδ·v, hence
    ‖S∘T − Id‖ = Σ_n δ_n = the telescoping bound (and W2(P, (S∘T)_#P) = Nδ too).
    """
    m0 = 3.0 * rng.standard_normal(d) / np.sqrt(d)
    s0 = np.eye(d)
    flow = build_affine_flow(m0, s0, gammas=np.full(n_blocks, gamma))
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    s_list, dn = [], []
    for n, t in enumerate(flow.blocks, 1):
        inv = t.inverse()
        s = AffineMap(inv.matrix, inv.offset + delta * v)
        s_list.append(s)
        dn.append(t.then(s).l2_distance(AffineMap.identity(d), flow.means[n - 1],
                                        flow.covs[n - 1]))
    u = flow.forward_map().then(compose_inverse(s_list))
    l2 = u.l2_distance(AffineMap.identity(d), m0, s0)
    tele = bounds.inversion_telescoping(lip_prefixes(s_list), np.array(dn))
    return {"d": d, "N": n_blocks, "delta": delta, "l2": l2, "telescoping": tele,
            "ratio": l2 / tele}


def _projection_case(d: int, rng: np.random.Generator) -> dict:
    """Non-invertible S = projection on k < d coordinates: KL can only decrease (L1)."""
    m0, s0 = _data(d, rng)
    flow = build_affine_flow(m0, s0, gammas=np.full(3, 0.5))
    out = []
    for k in range(1, d):
        p = np.eye(d)[:k]
        kl_p = gaussian.kl(p @ flow.means[-1], p @ flow.covs[-1] @ p.T,
                           p @ flow.target_mean, p @ flow.target_cov @ p.T)
        out.append(kl_p / flow.kl_forward())
    return {"d": d, "ratios": out}


def _sine_case(d, gamma, n_blocks, delta, cfg, rng) -> dict:
    """Nonlinear Lipschitz perturbation; W2 by POT exact OT with its sample-size floor."""
    m0, s0 = _data(d, rng)
    flow = build_affine_flow(m0, s0, gammas=np.full(n_blocks, gamma))
    dirs = [(rng.standard_normal(d), rng.standard_normal(d)) for _ in range(n_blocks)]
    dirs = [(a / np.linalg.norm(a), v / np.linalg.norm(v)) for a, v in dirs]
    inv = [t.inverse() for t in flow.blocks]
    om = cfg.sine_omega

    def s_n(n, y):  # S_n = T_n^{-1} + δ sin(ω⟨a,y⟩) v
        a, v = dirs[n - 1]
        return inv[n - 1](y) + delta * np.sin(om * (y @ a))[:, None] * v[None, :]

    n_mc = cfg.mc_samples
    lsq = np.linalg.cholesky(s0)
    x = m0 + rng.standard_normal((n_mc, d)) @ lsq.T
    x2 = m0 + rng.standard_normal((n_mc, d)) @ lsq.T
    # δ_n on samples of ρ_{n−1}; Lip(S_{<n}) ≤ Π_k (‖A_k^{-1}‖ + δω)
    z, dn, lip_pref, lips = x.copy(), [], 1.0, []
    for n, t in enumerate(flow.blocks, 1):
        y = t(z)
        dn.append(float(np.sqrt(np.mean(np.sum((s_n(n, y) - z) ** 2, axis=1)))))
        lips.append(lip_pref)
        lip_pref *= inv[n - 1].lipschitz() + delta * om
        z = y
    for n in range(n_blocks, 0, -1):
        z = s_n(n, z)
    l2 = float(np.sqrt(np.mean(np.sum((z - x) ** 2, axis=1))))  # coupling (x, U x): ≥ W2
    a = np.full(n_mc, 1.0 / n_mc)
    # W2 between independent samples of P and of U_#P (fresh x2 through U)
    z2 = x2.copy()
    for t in flow.blocks:
        z2 = t(z2)
    for n in range(n_blocks, 0, -1):
        z2 = s_n(n, z2)
    w2_hat = float(np.sqrt(ot.emd2(a, a, ot.dist(x, z2), numItermax=10**7)))
    x3 = m0 + rng.standard_normal((n_mc, d)) @ lsq.T
    floor = float(np.sqrt(ot.emd2(a, a, ot.dist(x, x3), numItermax=10**7)))
    return {"d": d, "gamma": gamma, "N": n_blocks, "delta": delta, "w2_emd": w2_hat,
            "w2_floor": floor, "l2_mc": l2,
            "telescoping": bounds.inversion_telescoping(np.array(lips), np.array(dn))}


def _affine_cases(cfg: Config, d: int, gamma: float) -> list[dict]:
    """The affine flows of one (d, γ): every N, kind and δ."""
    # data and perturbation directions depend on (d, γ, N, kind) only, so curves vary δ alone
    return [_affine_case(d, gamma, n, kind, delta, np.random.default_rng(
        [cfg.seed, d, int(round(1e3 * gamma)), n, cfg.kinds.index(kind)]))
        for n, kind, delta in itertools.product(cfg.n_blocks, cfg.kinds, cfg.deltas)]


def _sine_grid(cfg: Config) -> list[tuple]:
    return list(itertools.product(cfg.dims[:1], cfg.gammas[:1], cfg.n_blocks[-2:],
                                  cfg.mc_deltas))


def cases(cfg: Config) -> list[Case]:
    """Affine flows per (d, γ); projections and aligned shifts per d; sine flows per (N, δ).

    Cost in milliseconds, roughly: 1 per affine block, exact OT on the Monte Carlo samples.
    """
    blocks = sum(cfg.n_blocks)
    return [
        *(Case(f"affine,d={d},gamma={g:g}", {"part": "affine", "d": d, "gamma": g},
               blocks * len(cfg.kinds) * len(cfg.deltas))
          for d, g in itertools.product(cfg.dims, cfg.gammas)),
        *(Case(f"projection,d={d}", {"part": "projection", "d": d}, 3 + d) for d in cfg.dims),
        *(Case(f"aligned,d={d}", {"part": "aligned", "d": d}, blocks) for d in cfg.dims),
        *(Case(f"sine,N={n},delta={de:g}",
               {"part": "sine", "d": d, "gamma": g, "N": n, "delta": de},
               cfg.mc_samples**2 / 3000) for d, g, n, de in _sine_grid(cfg)),
    ]


def run_case(cfg: Config, case: Case) -> dict | list[dict]:
    """One case; every random draw comes from a generator seeded by (seed, the case)."""
    p = case.params
    d = p["d"]
    if p["part"] == "affine":
        return _affine_cases(cfg, d, p["gamma"])
    if p["part"] == "projection":
        return _projection_case(d, np.random.default_rng([cfg.seed, 8, d]))
    if p["part"] == "aligned":
        return [_aligned_shift_case(d, cfg.gammas[0], n, cfg.deltas[-1],
                                    np.random.default_rng([cfg.seed, 7, d, n]))
                for n in cfg.n_blocks if n >= 2]
    rng = np.random.default_rng([cfg.seed, 9, d, int(round(1e3 * p["gamma"])), p["N"],
                                 int(round(1e6 * p["delta"]))])
    return _sine_case(d, p["gamma"], p["N"], p["delta"], cfg, rng)


def reduce(cfg: Config, results: dict) -> dict:
    part = {}
    for c in cases(cfg):
        part.setdefault(c.params["part"], []).append(results[c.key])
    flows = [x for v in part["affine"] for x in v]
    proj, sine = part["projection"], part["sine"]
    aligned = [x for v in part["aligned"] for x in v]
    return {
        "cases": flows,
        "worst_w2_over_l2": max(c["w2"] / c["l2"] for c in flows),
        "worst_l2_over_telescoping": max(c["l2"] / c["telescoping"] for c in flows),
        # N = 1: δ_1 = ‖S_1∘T_1 − Id‖ is the bounded quantity itself (ratio 1 by identity)
        "worst_l2_over_telescoping_n_ge2": max(c["l2"] / c["telescoping"] for c in flows
                                               if c["N"] >= 2),
        "max_kl_rel_diff_invertible": max(c["kl_rel_diff"] for c in flows),
        "max_kl_ratio_projection": max(max(p["ratios"]) for p in proj),
        "projection": proj,
        "sine": sine,
        "worst_sine_l2_over_telescoping": max(s["l2_mc"] / s["telescoping"] for s in sine),
        "aligned_shift": aligned,
        "aligned_shift_max_abs_ratio_minus_1": max(abs(a["ratio"] - 1.0) for a in aligned),
        "max_lip": max(c["lip_max"] for c in flows),
        "mc_samples": cfg.mc_samples,
    }


def run(cfg: Config) -> dict:
    return run_cases(cfg, cases, run_case, reduce)


def checks(r: dict) -> list[Check]:
    cases = r["cases"]
    g = (f"{len(cases)} flows: d ∈ {sorted({c['d'] for c in cases})}, γ ∈ "
         f"{sorted({c['gamma'] for c in cases})}, N ∈ {sorted({c['N'] for c in cases})}, "
         f"δ ∈ [{min(c['delta'] for c in cases):g}, {max(c['delta'] for c in cases):g}], "
         "shift and matrix perturbations")
    g_tele = g.replace(f"N ∈ {sorted({c['N'] for c in cases})}",
                       f"N ∈ {sorted({c['N'] for c in cases if c['N'] >= 2})}")
    sine = r["sine"]
    return [
        ratio_check("C11", "W2(P,(S∘T)_#P) ≤ ‖S∘T − Id‖_{L²(P)}", g, r["worst_w2_over_l2"],
                    "worst_w2_over_l2", detail="all exact (Gaussian W2, affine L² norms); "
                                               "equality when S∘T − Id is a translation"),
        ratio_check("C11", "‖S∘T − Id‖_{L²(P)} ≤ Σ_n Lip(S_1∘…∘S_{n−1}) δ_n", g_tele,
                    r["worst_l2_over_telescoping_n_ge2"], "worst_l2_over_telescoping_n_ge2",
                    detail=f"N ≥ 2 only (at N = 1 the ratio is 1 by identity: δ_1 is the "
                           f"bounded quantity); Lipschitz constants up to {r['max_lip']:.3g}: "
                           "the inverses expand"),
        Check("C11", "sharpness: ‖S∘T − Id‖ = Σ_n Lip(S_1∘…∘S_{n−1}) δ_n "
              "(bounds.inversion_telescoping) on aligned translation errors",
              f"{len(r['aligned_shift'])} flows from N(m_0, I) to N(0, I), N ≥ 2, "
              "δ·v with one unit v", r["aligned_shift_max_abs_ratio_minus_1"], 1e-9,
              r["aligned_shift_max_abs_ratio_minus_1"] <= 1e-9,
              "aligned_shift_max_abs_ratio_minus_1", "equality",
              "max |ratio − 1|; translation blocks (Lip = 1) with inverse errors along one "
              "direction attain the bound exactly; a bound 1% looser or tighter gives 0.01"),
        ratio_check("C11", "nonlinear S_n = T_n^{-1} + δ sin(ω⟨a,·⟩)v: ‖S∘T − Id‖ ≤ telescoping "
                    "bound (Monte Carlo)", f"{len(sine)} cases (N, δ), {r['mc_samples']} samples",
                    r["worst_sine_l2_over_telescoping"],
                    "worst_sine_l2_over_telescoping", slack=0.0,
                    detail="δ_n and the L² norm on the same samples (the inequality holds "
                           "sample-wise); W2 by ot.emd2 is reported in the figure with its "
                           "sample-size floor"),
        Check("C9", "KL(S_#ρ_N‖S_#q) = KL(ρ_N‖q) for invertible affine S", g,
              r["max_kl_rel_diff_invertible"], 1e-9, r["max_kl_rel_diff_invertible"] <= 1e-9,
              "max_kl_rel_diff_invertible", "equality", "max relative difference"),
        ratio_check("C9", "KL(Π_#ρ_N‖Π_#q) ≤ KL(ρ_N‖q) for projections Π (not invertible)",
                    "projections on k = 1..d−1 coordinates after 3 blocks",
                    r["max_kl_ratio_projection"], "max_kl_ratio_projection",
                    detail="data processing"),
    ]


#: Colour and marker of each affine perturbation kind.
KIND_STYLE = {"shift": ("C0", "o"), "matrix": ("C1", "s")}
#: Figure names of the perturbation kinds.
KIND_NAME = {"shift": "shift S_n = T_n⁻¹ + δv_n", "matrix": "matrix S_n = T_n⁻¹ + δE_n(· − m_n)"}


def _jitter(cases: list[dict], spread: float = 0.12) -> np.ndarray:
    """Horizontal offsets in log2(N) that separate the (d, γ, δ) cases at one N."""
    keys = sorted({(c["d"], c["gamma"], c["delta"]) for c in cases})
    pos = {k: i for i, k in enumerate(keys)}
    return np.array([spread * (pos[(c["d"], c["gamma"], c["delta"])] / max(len(keys) - 1, 1)
                               - 0.5) for c in cases])


def _vs_delta(ax, cases: list[dict]) -> None:
    """Errors against δ for the deepest shift flow of the first (d, γ)."""
    d0, g0 = cases[0]["d"], cases[0]["gamma"]
    nmax = max(c["N"] for c in cases)
    sel = sorted((c for c in cases if c["d"] == d0 and c["gamma"] == g0 and c["kind"] == "shift"
                  and c["N"] == nmax), key=lambda c: c["delta"])
    de = np.array([c["delta"] for c in sel])
    ax.loglog(de, [c["telescoping"] for c in sel], label="telescoping bound Σ Lip·δ_n",
              **BOUND_STYLE)
    ax.loglog(de, [c["l2"] for c in sel], "s", mfc="none", ms=9, color="C1",
              label="‖S∘T − Id‖_{L²(P)} (exact)")
    ax.loglog(de, [c["w2"] for c in sel], "o-", ms=4, color="C0", label="W2(P, (S∘T)_#P) (exact)")
    ax.loglog(de, nmax * de, ":", color="gray", label="N·δ (errors add, no amplification)")
    ax.set(xlabel="per-block inversion error δ (distance)",
           ylabel="round-trip error (W2 / L², not squared)",
           title=f"errors grow linearly in δ\n(shift, d = {d0}, γ = {fmt(g0)}, N = {nmax})")
    legend_outside(ax, where="below", ncol=1)


def _vs_blocks(ax, cases: list[dict]) -> float:
    """Error/δ against N at the middle δ, both kinds, first (d, γ); returns that δ."""
    d0, g0 = cases[0]["d"], cases[0]["gamma"]
    deltas = sorted({c["delta"] for c in cases})
    dm = deltas[len(deltas) // 2]
    for kind, (col, mk) in KIND_STYLE.items():
        sel = sorted((c for c in cases if c["d"] == d0 and c["gamma"] == g0 and c["kind"] == kind
                      and c["delta"] == dm), key=lambda c: c["N"])
        ns = [c["N"] for c in sel]
        ax.plot(ns, [c["l2"] / dm for c in sel], mk + "-", color=col,
                label=f"{kind}: ‖S∘T − Id‖ / δ")
        ax.plot(ns, [c["telescoping"] / dm for c in sel], marker=mk, mfc="none",
                label=f"{kind}: bound / δ", **BOUND_STYLE)
    ns = sorted({c["N"] for c in cases})
    ax.plot(ns, ns, ":", color="gray", label="N (errors add)")
    ax.set(xscale="log", yscale="log", xlabel="number of blocks N",
           ylabel="round-trip error / δ (amplification)",
           title=f"amplification by the expanding inverses\n(d = {d0}, γ = {fmt(g0)}, "
                 f"δ = {fmt(dm)})")
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.xaxis.set_minor_formatter(NullFormatter())
    legend_outside(ax, where="below", ncol=1)
    return dm


def _ratios(ax, cases: list[dict], num: str, den: str, label: str) -> None:
    """measured/bound ratios of all affine flows against N (log2 axis, jittered by case)."""
    for kind, (col, mk) in KIND_STYLE.items():
        sel = [c for c in cases if c["kind"] == kind]
        x = np.log2([c["N"] for c in sel]) + _jitter(sel) + (0.1 if kind == "matrix" else -0.1)
        ax.plot(x, [c[num] / c[den] for c in sel], mk, color=col, ms=3, alpha=0.6,
                label=KIND_NAME[kind])
    ns = sorted({c["N"] for c in cases})
    ax.set_xticks(np.log2(ns), [str(n) for n in ns])
    ratio_axis(ax, label)
    ax.set_xlabel("number of blocks N (all d, γ, δ per column)")


def plot(r: dict, path) -> None:
    cases = r["cases"]
    fig, ax = new_figure(2, 3, height=4.4)
    _vs_delta(ax[0, 0], cases)
    _vs_blocks(ax[0, 1], cases)
    # the chain W2 ≤ ‖S∘T − Id‖ ≤ telescoping bound, every affine flow, as ratios
    a = ax[0, 2]
    _ratios(a, cases, "w2", "l2", "W2(P, (S∘T)_#P) / ‖S∘T − Id‖")
    a.set_title("first inequality, all affine flows:\nequality for pure shifts")
    legend_outside(a, where="below", ncol=1)
    a = ax[1, 0]
    _ratios(a, cases, "l2", "telescoping", "‖S∘T − Id‖ / telescoping bound")
    al = r["aligned_shift"]
    a.plot(np.log2([c["N"] for c in al]), [c["ratio"] for c in al], "D", color="C2", ms=6,
           mfc="none", label="aligned translations (bound attained)")
    a.set_title(f"telescoping bound, all {len(cases)} affine flows\n"
                "(ratio 1 at N = 1 by definition)")
    legend_outside(a, where="below", ncol=1)
    # nonlinear inverse errors (Monte Carlo)
    a = ax[1, 1]
    sine = r["sine"]
    x = np.arange(len(sine))
    for i, s in enumerate(sine):
        a.plot([i - 0.35, i + 0.35], [s["telescoping"]] * 2,
               label=None if i else "telescoping bound", **BOUND_STYLE)
        a.plot([i - 0.35, i + 0.35], [s["w2_floor"]] * 2, color="gray", lw=2.5, alpha=0.6,
               label=None if i else "sample-size floor of W2\n(two samples of P)")
    a.plot(x - 0.1, [s["w2_emd"] for s in sine], "o", color="C0",
           label="W2 from samples (exact OT)")
    a.plot(x + 0.1, [s["l2_mc"] for s in sine], "s", mfc="none", color="C1",
           label="‖S∘T − Id‖ (Monte Carlo)")
    a.set_xticks(x, [f"N={s['N']}\nδ={fmt(s['delta'])}" for s in sine], fontsize=6.5)
    a.set(yscale="log", xlabel=f"flow (blocks N, amplitude δ), d = {sine[0]['d']}",
          ylabel="round-trip error (W2 / L², not squared)",
          title=f"nonlinear inverse errors δ·sin(ω⟨a,·⟩)v\n({r['mc_samples']} samples each)")
    legend_outside(a, where="below", ncol=1)
    # KL part: projections can only lower KL (data processing)
    a = ax[1, 2]
    for j, p in enumerate(r["projection"]):
        k = np.arange(1, len(p["ratios"]) + 1)
        a.plot(k / p["d"], p["ratios"], "o-", color=seed_colors(len(r["projection"]))[j],
               ms=4 + 5 * (len(p["ratios"]) == 1), mfc="none" if len(p["ratios"]) == 1 else None,
               label=f"d = {p['d']}")
    ratio_axis(a, "KL(Π_#ρ_N‖Π_#q) / KL(ρ_N‖q)")
    a.set(xlim=(0, 1), xlabel="fraction k/d of coordinates kept by Π",
          title="KL after a projection (not invertible)\n"
                f"invertible S: max relative change {fmt(r['max_kl_rel_diff_invertible'], 2)}")
    legend_outside(a, where="below", ncol=1)
    save(fig, path)
