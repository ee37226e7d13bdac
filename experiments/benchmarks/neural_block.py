"""Benchmark of the neural JKO block on 2 CPU cores: iterations/s and time-to-KL on a 2-D mixture.

Rows: the project's default block (MLP 64-64 on (x, t), Softplus, batch 500, 3 RK4 steps, exact
divergence, float32) with 1 and 2 torch threads, and a JKO-iFlow-sized block (3 hidden layers of
128 Softplus units, autonomous, batch 2000, 3 RK4 steps). Time-to-KL: the default 8-block flow
(γ_n = 0.25·1.4^{n-1}) on the ring-of-8-Gaussians, KL(ρ_n‖q) (k3, exact density, float64) after
each block against cumulative training time. Timings are medians over repeats on a shared machine.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import torch

from theory.flow import (
    FlowConfig,
    make_block,
    ring_mixture,
    torch_threads,
    train_block,
    train_flow,
)

TITLE = "Neural JKO block: iterations/s and time-to-KL (2-D mixture, CPU)"

SETTINGS = {
    "default (64-64, t-input, batch 500)": dict(hidden=(64, 64), time_dependent=True, batch=500),
    "JKO-iFlow size (128x3, batch 2000)": dict(hidden=(128, 128, 128), time_dependent=False,
                                               batch=2000),
}


def _its_per_s(hidden, time_dependent, batch, iters, repeats, threads) -> float:
    cfg = FlowConfig(hidden=hidden, time_dependent=time_dependent, batch=batch, iters=iters,
                     lr=1e-3, steps=3)
    with torch_threads(threads):
        torch.manual_seed(0)
        blk = make_block(cfg)
        x = torch.as_tensor(ring_mixture().sample(max(batch, 4000), np.random.default_rng(0)),
                            dtype=torch.float32)
        train_block(blk, x, replace(cfg, iters=2), gamma=0.5)  # warm-up
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            train_block(blk, x, cfg, gamma=0.5)
            rates.append(iters / (time.perf_counter() - t0))
    return float(np.median(rates))


def run(quick: bool = False) -> dict:
    with torch_threads(1):
        return _run(quick)


def _run(quick: bool) -> dict:
    iters, repeats = (4, 1) if quick else (20, 3)
    rows = []
    for name, s in SETTINGS.items():
        for threads in ((1,) if "JKO" in name else (1, 2)):
            r = _its_per_s(s["hidden"], s["time_dependent"], s["batch"],
                           max(2, iters // (4 if "JKO" in name else 1)), repeats, threads)
            rows.append({"setting": name, "threads": threads, "its_per_s": r})
    nb, it = (2, 20) if quick else (8, 200)
    cfg = FlowConfig(n_blocks=nb, schedule="geometric", gamma=0.25, ratio=1.4, iters=it,
                     batch=500, n_train=20000)
    tr = train_flow(cfg, ring_mixture(), n_eval=4000, n_residual=500, show_progress=False)
    cum = np.cumsum(tr.train_times).tolist()
    kl = [d.kl for d in tr.diagnostics]
    default_rate = rows[0]["its_per_s"]
    jko_rate = rows[-1]["its_per_s"]
    lines = ["| block | torch threads | iterations/s | 8 blocks x 2000 its | 8 blocks x 10k its |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['threads']} | {r['its_per_s']:.1f} | "
                     f"{16000 / r['its_per_s'] / 60:.0f} min | "
                     f"{80000 / r['its_per_s'] / 3600:.1f} h |")
    lines += ["",
              f"Time-to-KL, default block, {nb} blocks x {it} iterations (ring of 8 Gaussians):",
              "", "| after block | cumulative training time | KL(ρ_n‖q) k3 [nats] |",
              "|---|---|---|"]
    for k, (t, v) in enumerate(zip(cum, kl, strict=True)):
        lines.append(f"| {k + 1} | {t:.0f} s | {v:.4f} |")
    return {"rows": rows, "time_to_kl": {"cum_time_s": cum, "kl": kl, "iters_per_block": it},
            "default_its_per_s": default_rate, "jko_iflow_its_per_s": jko_rate,
            "table": "\n".join(lines)}
