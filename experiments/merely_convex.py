"""C16: merely convex G (λ = 0): G(ρ_n) − G(ν) ≤ W2²(ρ_0, ν)/(2γn) along exact JKO steps (1-D).

G(ρ) = ∫V dρ + ∫ρ log ρ with V'' ≥ 0 but inf V'' = 0, solved by the 1-D Lagrangian solver
(``theory.oned.trajectory``, docs/numerics.md §3.1):

- ``quartic``: V = x⁴/4 (V'' = 3x² vanishes at 0), the claim's example;
- ``sqrt``: V = √(1+x²) (V'' = (1+x²)^{-3/2} → 0 at infinity; linear growth, so a far start
  travels at speed ≈ 1 — the largest gap/bound ratio measured here, yet well below 1: about
  0.4).

ν = the minimiser e^{-V}/Z on the same grid (the solver's own steady state); G(ν) = −log Z.
The bound (theory.bounds.merely_convex_gap, docs/theory.md T3) is tested at every step, and the
measured decay is summarised by its log-log slope (the late-time decay is in fact exponential
here, since e^{-V}/Z satisfies a log-Sobolev inequality: the O(1/n) bound is a worst-case
statement).

The bound is not sharp (the best ratio measured here is reported). So that a loosened bound
function still fails a row, it is also evaluated on a family with a closed-form ratio: a mean
shift of the discrete minimiser under V = λx²/2 + entropy with a small λ (a convex G; the bound
holds for every λ ≥ 0), where G(ρ_n) − G(ν) = λW_0²(1+γλ)^{-2n}/2 exactly, so that
gap/bound = γλn(1+γλ)^{-2n} (at most 1/4, at γλ = 1/(2n−1) and n = 1). Finally, ``trajectory``
is cross-checked against the same steps chained by hand (``jko_step``), its energies against
``G.energy``.

Cases: one per (potential, γ) (the trajectories from its three data laws), then ``family`` and
``chain``; the reduction orders the runs by potential, data, γ and takes the worst ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

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
from theory import bounds
from theory.oned import (
    Entropy,
    GaussianMixture1D,
    Potential,
    gaussian_grid,
    gaussian_quantile,
    jko_step,
    kl_to_gibbs,
    quartic_potential,
    steady_state,
    trajectory,
    w2_sq,
)

CLAIMS = ("C16",)
TITLE = "Merely convex G (λ = 0, V = x⁴/4 and √(1+x²)): O(1/n) gap bound vs measured decay"
STOCHASTIC = False  # fixed data laws and deterministic solves: config.seed is not used

#: Closed-form family (module docstring): λ values, shift of ν, number of steps. The gap and W0²
#: are exact up to the solver (W error ≲ 1e-10 against W ≥ 1e-2, gap round-off ~1e-14 against
#: gap ≥ FAMILY_GAP_FLOOR); FAMILY_RTOL = 1e-6 is above the measured agreement (see the row) and
#: 10^4 times below a 1% change of the bound.
FAMILY_LAMS = (0.05, 0.2)
FAMILY_SHIFT = 2.0
FAMILY_STEPS = 6
FAMILY_GAP_FLOOR = 1e-6
FAMILY_RTOL = 1e-6
#: trajectory() vs the same steps chained by hand: identical arithmetic; 1e-12 absolute.
CHAIN_ATOL = 1e-12
CHAIN_STEPS = 3


@dataclass(frozen=True)
class Config:
    n: int = 400
    gammas: tuple[float, ...] = (0.1, 0.5, 2.0)
    n_steps: int = 200
    tol: float = 1e-10
    seed: int = 0

    @classmethod
    def quick(cls) -> Config:
        return cls(n=150, gammas=(0.5,), n_steps=20)

    @classmethod
    def full(cls) -> Config:
        return cls()


def _sqrt_potential() -> Potential:
    return Potential(lambda x: np.sqrt(1.0 + x * x), lambda x: x / np.sqrt(1.0 + x * x),
                     lambda x: (1.0 + x * x) ** -1.5, lam=0.0, name="√(1+x²)")


def _potentials() -> dict:
    bim = GaussianMixture1D.make([0.5, 0.5], [-4.0, 3.0], [0.5, 1.0])
    return {
        "quartic": (quartic_potential(0.0, 1.0), {
            "N(4, 0.5²)": gaussian_quantile(4.0, 0.5), "bimodal": bim.quantile,
            "uniform[1,5]": lambda s, sc=None: np.where(s <= 0.5, 1 + 4 * s, 5 - 4 * sc)}),
        "sqrt": (_sqrt_potential(), {
            "N(20, 1)": gaussian_quantile(20.0, 1.0),
            "skewed 10+Gamma(2)": lambda s, sc=None: 10.0 + np.where(
                s <= 0.5, stats.gamma.ppf(s, 2.0), stats.gamma.isf(sc, 2.0)),
            "bimodal": bim.quantile}),
    }


def _runs(cfg: Config, name: str, gamma: float) -> list[dict]:
    """The trajectories of potential ``name`` at step γ, one per data law."""
    V, datas = _potentials()[name]
    F = kl_to_gibbs(V)  # = ∫V dρ + ∫ρlogρ + log Z, so G − G(ν) = KL(ρ‖e^{-V}/Z)
    g = gaussian_grid(cfg.n)
    nu = steady_state(F, g, g.nodes(F.gibbs.quantile), tol=cfg.tol)
    g_nu = F.energy(nu.x, g)
    runs = []
    for dname, q in datas.items():
        y0 = g.nodes(q)
        w0sq = w2_sq(y0, nu.x, g)
        path = trajectory(y0, g, F, gamma, cfg.n_steps, tol=cfg.tol)
        gaps, res = path.energies[1:] - g_nu, path.residuals
        nn = np.arange(1, cfg.n_steps + 1)
        bnd = bounds.merely_convex_gap(nn, gamma, w0sq)
        # log-log slope over the window 1e-8 < gap < gap_1/100 (the post-transient decay)
        win = (gaps > 1e-8) & (gaps < 1e-2 * gaps[0])
        # None (not NaN, which the pipeline rejects): too few steps in the window
        sl = (float(np.polyfit(np.log(nn[win]), np.log(gaps[win]), 1)[0])
              if np.sum(win) > 2 else None)
        runs.append({"potential": name, "data": dname, "gamma": gamma, "w0_sq": w0sq,
                     "gap": gaps, "bound": bnd, "ratio": gaps / bnd,
                     "max_ratio": float(np.max(gaps / bnd)),
                     "argmax": int(np.argmax(gaps / bnd)) + 1,
                     "late_loglog_slope": sl, "max_residual": float(np.max(res)),
                     "nu_residual": nu.residual,
                     "nu_w2_to_exact": float(np.sqrt(w2_sq(
                         nu.x, g.nodes(F.gibbs.quantile), g)))})
    return runs


def _key(name: str, gamma: float) -> str:
    return f"{name},gamma={gamma:g}"


def cases(cfg: Config) -> list[Case]:
    """One case per (potential, γ), then the closed-form family and the chained steps."""
    return [*(Case(_key(name, gamma), {"potential": name, "gamma": gamma},
                   3 * cfg.n * cfg.n_steps) for name in _potentials() for gamma in cfg.gammas),
            Case("family", {}, len(FAMILY_LAMS) * len(cfg.gammas) * cfg.n * FAMILY_STEPS),
            Case("chain", {}, 2 * cfg.n * CHAIN_STEPS)]


def run_case(cfg: Config, case: Case) -> list[dict] | dict | float:
    if case.key == "family":
        return _family(cfg)
    if case.key == "chain":
        return _chain_error(cfg)
    return _runs(cfg, case.params["potential"], case.params["gamma"])


def reduce(cfg: Config, results: dict) -> dict:
    # in the order potential, data, γ
    runs = [results[_key(name, gamma)][i] for name, (_, datas) in _potentials().items()
            for i in range(len(datas)) for gamma in cfg.gammas]
    worst = max(runs, key=lambda r: r["max_ratio"])
    return {"runs": runs, "worst_ratio": worst["max_ratio"], "family": results["family"],
            "chain_error": results["chain"],
            "worst_case": f"{worst['potential']}, {worst['data']}, γ={worst['gamma']}, "
                          f"n={worst['argmax']}",
            "n": cfg.n, "gammas": list(cfg.gammas), "n_steps": cfg.n_steps,
            "max_residual": max(r["max_residual"] for r in runs)}


def run(cfg: Config) -> dict:
    return run_cases(cfg, cases, run_case, reduce)


def _family(cfg: Config) -> dict:
    """gap/bound on the mean-shift family vs its closed form γλn(1+γλ)^{-2n} (docstring)."""
    g = gaussian_grid(cfg.n)
    dev, best = 0.0, 0.0
    for lam in FAMILY_LAMS:
        F = quartic_potential(lam) + Entropy()
        nu = steady_state(F, g, g.nodes(gaussian_quantile(0.0, lam ** -0.5)), tol=cfg.tol)
        y0 = nu.x + FAMILY_SHIFT
        w0sq = w2_sq(y0, nu.x, g)
        for gamma in cfg.gammas:
            path = trajectory(y0, g, F, gamma, FAMILY_STEPS, tol=cfg.tol)
            gaps = path.energies[1:] - F.energy(nu.x, g)
            nn = np.arange(1, FAMILY_STEPS + 1)
            ratio = gaps / bounds.merely_convex_gap(nn, gamma, w0sq)
            closed = gamma * lam * nn * (1.0 + gamma * lam) ** (-2.0 * nn)
            ok = gaps >= FAMILY_GAP_FLOOR
            dev = max(dev, float(np.max(np.abs(ratio[ok] / closed[ok] - 1.0))))
            best = max(best, float(np.max(ratio)))
    return {"deviation": dev, "best_ratio": best, "lams": list(FAMILY_LAMS),
            "steps": FAMILY_STEPS, "shift": FAMILY_SHIFT}


def _chain_error(cfg: Config) -> float:
    """Max |difference| of ``trajectory`` vs CHAIN_STEPS ``jko_step`` calls chained by hand."""
    V, datas = _potentials()["quartic"]
    F, g = kl_to_gibbs(V), gaussian_grid(cfg.n)
    y = g.nodes(next(iter(datas.values())))
    path = trajectory(y, g, F, cfg.gammas[0], CHAIN_STEPS, tol=cfg.tol)
    err = 0.0
    for k in range(1, CHAIN_STEPS + 1):
        y = jko_step(y, g, F, cfg.gammas[0], tol=cfg.tol).x
        err = max(err, float(np.max(np.abs(path.nodes[k] - y))),
                  abs(float(path.energies[k]) - F.energy(y, g)))
    return err


def checks(r: dict) -> list[Check]:
    grid = (f"V ∈ {{x⁴/4, √(1+x²)}} (+ entropy) × 3 data × γ ∈ {r['gammas']}, "
            f"{r['n_steps']} steps, n = {r['n']} nodes")
    sqrt_best = max((x["max_ratio"] for x in r["runs"] if x["potential"] == "sqrt"), default=0)
    quart_best = max((x["max_ratio"] for x in r["runs"] if x["potential"] == "quartic"),
                     default=0)
    return [
        ratio_check("C16", "G(ρ_n) − G(ν) ≤ W2²(ρ_0,ν)/(2γn), λ = 0, ν = minimiser (1-D)",
                    grid, r["worst_ratio"], "worst_ratio", slack=1e-6,
                    detail=f"worst at {r['worst_case']}; max ratio V=x⁴/4: {quart_best:.3g}, "
                           f"V=√(1+x²): {sqrt_best:.3g} (largest here: linear growth); not "
                           "sharp, best ratio reported; slack 1e-6 for round-off of energy "
                           "differences"),
        _family_check(r),
        Check("C16", "trajectory() = the same jko_step calls chained by hand; its energies = "
              "G.energy (fast path cross-check)",
              f"V = x⁴/4, first data law, γ = {r['gammas'][0]}, first {CHAIN_STEPS} steps",
              r["chain_error"], CHAIN_ATOL, r["chain_error"] <= CHAIN_ATOL, "chain_error",
              "equality", "max |difference| of nodes and energies; identical arithmetic"),
    ]


def _family_check(r: dict) -> Check:
    f = r["family"]
    return Check(
        "C16", "bound not sharp: on the mean-shift family gap/bound = γλn(1+γλ)^{-2n} (closed "
        "form; bound: theory.bounds.merely_convex_gap; measured/closed form = 1)",
        f"mean shift {f['shift']:g} of ν for V = λx²/2 + entropy, λ ∈ {f['lams']}, γ ∈ "
        f"{r['gammas']}, {f['steps']} steps, n = {r['n']}", f["deviation"], FAMILY_RTOL,
        bool(f["deviation"] <= FAMILY_RTOL), "family.deviation", "equality",
        f"max |ratio/closed form − 1|; best gap/bound on this family {f['best_ratio']:.3f} (the "
        f"closed form is ≤ 1/4); FAMILY_RTOL from the solver's accuracy (module constants)")


#: Plain names of the two potentials.
_POT_LABELS = {"quartic": "V = x⁴/4", "sqrt": "V = √(1+x²)"}


def _gamma_styles(gammas) -> dict:
    """One line style per step size γ (dashed is kept for bounds)."""
    return dict(zip(sorted(gammas), ["-", "-.", ":", (0, (1, 1)), (0, (5, 1))], strict=False))


def plot(r: dict, path) -> None:
    fig, axes = new_figure(1, 3, height=4.6)
    styles = _gamma_styles({x["gamma"] for x in r["runs"]})
    for j, pot in enumerate(("quartic", "sqrt")):
        ax = axes[0, j]
        runs = [x for x in r["runs"] if x["potential"] == pot]
        datas = list(dict.fromkeys(x["data"] for x in runs))
        cols = dict(zip(datas, seed_colors(len(datas)), strict=True))
        for k, run in enumerate(runs):
            nn = np.arange(1, len(run["gap"]) + 1)
            ax.loglog(nn, np.maximum(run["gap"], 1e-300), color=cols[run["data"]], lw=1.3,
                      ls=styles[run["gamma"]])
            ax.loglog(nn, run["bound"], **{**BOUND_STYLE, "lw": 0.8},
                      label="bound W2²(ρ_0, ν)/(2γn), one per run" if k == 0 else None)
        for dname, col in cols.items():
            ax.plot([], [], color=col, lw=1.5, label=f"data {dname}")
        for g, ls in styles.items():
            ax.plot([], [], color="0.3", ls=ls, lw=1.3, label=f"γ = {fmt(g)}")
        slopes = [float(x["late_loglog_slope"]) for x in runs
                  if x["late_loglog_slope"] not in (None, "nan")]
        top = max(max(x["bound"]) for x in runs)
        ax.set_ylim(1e-10, 10 * top)
        if not slopes:
            slope_txt = "too few steps for a late slope"
        elif min(slopes) == max(slopes):
            slope_txt = f"late log-log slope {fmt(slopes[0], 2)}"
        else:
            slope_txt = f"late log-log slopes {fmt(min(slopes), 2)} to {fmt(max(slopes), 2)}"
        ax.set(xlabel="step n", ylabel="G(ρ_n) − G(ν) (nats)",
               title=f"({'ab'[j]}) {_POT_LABELS[pot]} + entropy (λ = 0): gap vs the "
                     f"O(1/n)\nbound; {slope_txt}")
        legend_outside(ax, where="below", ncol=2)
    ax = axes[0, 2]
    pcols = {"quartic": "tab:purple", "sqrt": "tab:brown"}  # not the data colours of (a), (b)
    for run in r["runs"]:
        nn = np.arange(1, len(run["ratio"]) + 1)
        ax.loglog(nn, np.maximum(run["ratio"], 1e-300), color=pcols[run["potential"]], lw=1,
                  ls=styles[run["gamma"]])
    for pot, col in pcols.items():
        ax.plot([], [], color=col, lw=1.5, label=_POT_LABELS[pot])
    ratio_axis(ax, "gap / bound")
    plain_log_ticks(ax)
    ax.set_ylim(1e-3, 2)
    ax.set(xlabel="step n",
           title="(c) All runs as measured/bound\n"
                 f"(C16; worst {fmt(r['worst_ratio'], 2)}; line style: γ)")
    legend_outside(ax, where="below", ncol=1)
    save(fig, path)
