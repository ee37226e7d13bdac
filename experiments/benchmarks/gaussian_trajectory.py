"""Benchmark: an N = 100 step exact JKO trajectory in d = 1000 (target N(0, I)).

Compares ``theory.gaussian.standard_trajectory`` (one eigendecomposition for the whole
trajectory, plus W2 and KL at every step) with two per-step implementations of the same step
Σ' = (Σ^{1/2} + (Σ + 4γ(1+γ)I)^{1/2})² / (4(1+γ)²): (a) ``scipy.linalg.sqrtm`` twice per step
(the naive route the project forbids for covariances), (b) ``theory.gaussian.jko_step`` (one
``eigh`` per step). The per-step routes are timed over ``k`` steps and scaled to N (their cost per
step is constant); the trajectory is timed over the full N. Median of repeats.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg

from theory import gaussian
from theory.gaussian import standard_trajectory

TITLE = "Gaussian JKO trajectory, d = 1000, N = 100 (target N(0, I))"


def _median_time(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def run(quick: bool = False) -> dict:
    d, n, gamma = (300 if quick else 1000), 100, 0.5
    rng = np.random.default_rng(0)
    a = rng.standard_normal((d, d))
    cov = a @ a.T / d + 0.01 * np.eye(d)
    mean = rng.standard_normal(d)
    k = 2 if quick else 3

    def traj():
        tr = standard_trajectory(mean, cov, gamma=gamma, n_steps=n)
        tr.w2(), tr.kl()

    def sqrtm_steps():
        s = cov
        c = 4 * gamma * (1 + gamma)
        for _ in range(k):
            r = scipy.linalg.sqrtm(s).real + scipy.linalg.sqrtm(s + c * np.eye(d)).real
            s = r @ r / (4 * (1 + gamma) ** 2)

    def eigh_steps():
        m, s = mean, cov
        for _ in range(k):
            m, s = gaussian.jko_step(m, s, gamma=gamma)

    reps = 3 if quick else 5
    t_traj = _median_time(traj, reps)
    t_sqrtm = _median_time(sqrtm_steps, 2) / k * n
    t_eigh = _median_time(eigh_steps, 2) / k * n
    table = (
        f"| implementation (d = {d}, N = {n}) | time | speed-up of the trajectory |\n"
        "|---|---|---|\n"
        f"| `standard_trajectory` (1 eigh, W2 + KL at every step) | {t_traj:.3f} s | 1× |\n"
        f"| per-step `jko_step` (1 eigh per step; {k} steps timed, ×{n // k}) | "
        f"{t_eigh:.2f} s | {t_eigh / t_traj:.0f}× |\n"
        f"| per-step `scipy.linalg.sqrtm` ×2 ({k} steps timed, ×{n // k}) | "
        f"{t_sqrtm:.2f} s | {t_sqrtm / t_traj:.0f}× |\n"
    )
    return {"d": d, "n_steps": n, "gamma": gamma, "t_trajectory_s": t_traj,
            "t_per_step_sqrtm_s": t_sqrtm, "t_per_step_eigh_s": t_eigh,
            "speedup_vs_sqrtm": t_sqrtm / t_traj, "speedup_vs_eigh": t_eigh / t_traj,
            "table": table}
