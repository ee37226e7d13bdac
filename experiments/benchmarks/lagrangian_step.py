"""One 1-D Lagrangian JKO step (potential + entropy, KL to N(0,1)): time and W2 error vs n.

The step is γ = 0.5 from N(1.5, 2²) on the tail-graded grid; the error is the W2 distance to the
Gaussian closed form (theory.gaussian.jko_step). Timings are the median of several repeats of
``jko_step`` alone (grid and data construction excluded); the machine is shared, so read ratios.
At n ≳ 1e5 the FOC residual's round-off floor is ~1e-9, so the Newton tolerance is 1e-7 there.
"""

from __future__ import annotations

import time

import numpy as np

from theory import gaussian
from theory.oned import (
    gaussian_grid,
    gaussian_quantile,
    jko_step,
    kl_to_gibbs,
    quartic_potential,
    w2_to_quantile,
)

TITLE = "1-D Lagrangian JKO step (KL to N(0,1)): time and W2 error vs n"


def run(quick: bool) -> dict:
    ns = (100, 1000, 10_000) if quick else (100, 400, 1600, 10_000, 100_000)
    repeats = 3 if quick else 5
    G = kl_to_gibbs(quartic_potential(1.0))
    m1, c1 = gaussian.jko_step([1.5], [[4.0]], gamma=0.5)
    ref = gaussian_quantile(float(m1[0]), float(np.sqrt(c1[0, 0])))
    rows = []
    for n in ns:
        g = gaussian_grid(n)
        y = g.nodes(gaussian_quantile(1.5, 2.0))
        tol = 1e-9 if n <= 10_000 else 1e-7
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = jko_step(y, g, G, 0.5, tol=tol)
            times.append(time.perf_counter() - t0)
        rows.append({"n": n, "time_s": float(np.median(times)), "newton_iters": r.n_iter,
                     "residual": r.residual, "tol": tol,
                     "w2_error": w2_to_quantile(r.x, g, ref)})
    lines = ["| n | time per step | Newton iterations | FOC residual ε "
             "| W2 error vs closed form |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['n']:,} | {row['time_s'] * 1e3:.1f} ms | {row['newton_iters']} | "
                     f"{row['residual']:.1e} | {row['w2_error']:.2e} |")
    return {"rows": rows, "table": "\n".join(lines)}
