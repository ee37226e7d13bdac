"""The neural_recipe benchmark (quick profile): its variants switch what they say they switch."""

from experiments.benchmarks import neural_recipe as nr


def test_quick_benchmark_switches_the_mechanisms_and_reports_the_goal():
    out = nr.run(quick=True)
    runs = out["runs"]
    assert list(runs) == list(nr.VARIANTS)
    # bare: 3 RK4 steps everywhere, no acceptance records; the recipe: acceptance recorded
    assert runs["bare"]["block_steps"] == [3, 3, 3] and runs["bare"]["acceptance"] == []
    assert runs["step control"]["acceptance"] == []
    for name in ("recipe", "recipe, 4000 held-out"):
        assert len(runs[name]["acceptance"]) == 3
        assert all(a["n"] == 500 for a in runs[name]["acceptance"])  # quick: 500 held out
    for r in runs.values():
        assert r["s_per_iter"] > 0 and r["iterations"] >= 3 * 25
        assert r["kl_4S"] > -4 * r["kl_se"]  # a density: KL ≥ 0 within noise
    assert isinstance(out["goal_met"], bool) and "Goal KL" in out["table"]
