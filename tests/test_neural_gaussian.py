"""experiments/neural_gaussian.py: its data sets in d = 2, 10, 30, the closed-form references
it compares with in high d, the Monte Carlo floors of its moment rows, and a tiny real run.

The quick and full profiles themselves are run by tests/test_experiments_smoke.py and by hand;
per-block resume through the runner is tested in tests/test_runner.py.
"""

from dataclasses import replace

import numpy as np
import pytest

from experiments import neural_gaussian as ng
from tests.tolerances import (
    GAUSS_HD_MEAN_OFF_EIG_MIN,
    GAUSS_HD_OFFDIAG_MIN,
    IS_SECOND_MOMENT_MAX,
    MC_POWER_SIGMAS,
    MC_SIGMAS,
    ROUNDOFF_RTOL,
    ROUTE_RTOL,
)
from theory import gaussian
from theory.flow import jko_trajectory


@pytest.mark.parametrize("name", sorted(ng.HIGH_D))
def test_high_d_data_sets_are_fixed_laws_with_the_stated_moments(name):
    d, norm, (lo, hi), _ = ng.HIGH_D[name]
    m, cov = ng.dataset(name)
    m2, cov2 = ng.dataset(name)
    assert np.array_equal(m, m2) and np.array_equal(cov, cov2)  # a function of the name only
    assert m.shape == (d,) and cov.shape == (d, d) and np.array_equal(cov, cov.T)
    assert abs(np.linalg.norm(m) - norm) <= ROUNDOFF_RTOL * norm
    eig = np.linalg.eigvalsh(cov)
    np.testing.assert_allclose(eig, np.geomspace(lo, hi, d), rtol=ROUTE_RTOL)
    # non-trivial: the eigenbasis is rotated (far from the coordinate axes) and m is not an
    # eigenvector, so the blocks must learn a full (non-diagonal) linear map
    off = cov - np.diag(np.diag(cov))
    spread = np.linalg.norm(cov - np.mean(eig) * np.eye(d))
    assert np.linalg.norm(off) > GAUSS_HD_OFFDIAG_MIN * spread
    along = (m @ cov @ m) / (m @ m) * m
    assert np.linalg.norm(cov @ m - along) > GAUSS_HD_MEAN_OFF_EIG_MIN * np.linalg.norm(cov @ m)


def test_2d_data_sets_and_bad_names():
    for name, (m, c) in ng.DATASETS.items():
        got_m, got_c = ng.dataset(name)
        assert np.array_equal(got_m, m) and np.array_equal(got_c, c)
    with pytest.raises(ValueError, match="name"):
        ng.dataset("gauss7")
    with pytest.raises(ValueError, match="datasets"):
        ng.Config(datasets=("corr", "nope"))
    with pytest.raises(ValueError, match="datasets"):
        ng.Config(datasets=())


def test_exact_jko_trajectory_in_d30_decouples_in_the_eigenbasis():
    """In Σ_0's eigenbasis the JKO scheme to N(0, I) acts on each eigenvalue separately.

    So the 30-D trajectory must keep the eigenvectors, move each eigenvalue as the 1-D
    trajectory started from it, shrink the mean by 1/(1+γ) per step, and have KL(ρ_n‖q) equal to
    the sum of the 1-D KLs plus |m_n|²/2.
    """
    m, cov = ng.dataset("gauss30")
    gammas = (0.5, 0.5, 0.3)
    traj = jko_trajectory(m, cov, gammas)
    lam, u = np.linalg.eigh(cov)
    one_d = [jko_trajectory([0.0], [[v]], gammas) for v in lam]
    for k in range(len(gammas) + 1):
        c_k = np.asarray(traj["covs"][k])
        lam_k = np.array([o["covs"][k][0][0] for o in one_d])
        np.testing.assert_allclose(u.T @ c_k @ u, np.diag(lam_k), rtol=0,
                                   atol=ROUTE_RTOL * np.linalg.norm(c_k))
        shrink = np.prod([1.0 / (1.0 + g) for g in gammas[:k]])
        np.testing.assert_allclose(traj["means"][k], shrink * m, rtol=ROUTE_RTOL)
        kl_sum = sum(o["kl"][k] for o in one_d) + 0.5 * float(np.sum(np.square(shrink * m)))
        assert abs(traj["kl"][k] - kl_sum) <= ROUTE_RTOL * kl_sum
        assert abs(traj["kl"][k] - gaussian.kl(traj["means"][k], c_k)) <= ROUTE_RTOL * kl_sum


def test_moment_floor_closed_forms_match_simulation(rng):
    """RMS relative mean / covariance errors of n exact samples equal the stated closed forms."""
    m, cov = ng.dataset("gauss10")
    n, reps = 400, 300
    floor = ng._moment_floor(m, cov, n, 2, np.random.default_rng(1))
    errs = np.array([ng._moments(rng.multivariate_normal(m, cov, size=n), m, cov)[:2]
                     for _ in range(reps)])
    for col, key in ((0, "rel_mean_rms"), (1, "rel_cov_rms")):
        sq = errs[:, col] ** 2
        se = sq.std(ddof=1) / np.sqrt(reps)
        # np.cov divides by n − 1: the covariance's mean square is n/(n−1) times the closed form
        expect = floor[key] ** 2 * (n / (n - 1) if col == 1 else 1.0)
        assert abs(sq.mean() - expect) <= MC_SIGMAS * se, (key, sq.mean(), expect, se)
    assert floor["w2_mean"] > 0 and floor["w2_sd"] > 0


def test_kl_of_the_gaussian_fit_to_the_truth_matches_simulation(rng):
    """E KL(N(m̂, Σ̂)‖N(m, Σ)) for n exact samples (exact Wishart form) against 2000 fits.

    The reference is the truth, so the plug-in KL has no first-order term and a small sampling
    sd: the formula is tested sharply (dropping its d/(2n) part alone is off by > 30 SE).
    """
    m, cov = ng.dataset("gauss10")
    d, n, reps = 10, 200, 2000
    expect = ng._moment_floor(m, cov, n, 2, np.random.default_rng(1))["kl_fit_mean"]
    sims = np.array([gaussian.kl(*ng.gaussian_fit(rng.multivariate_normal(m, cov, size=n)),
                                 m, cov) for _ in range(reps)])
    se = sims.std(ddof=1) / np.sqrt(reps)
    assert abs(sims.mean() - expect) <= MC_SIGMAS * se, (sims.mean(), expect, se)
    assert d / (2 * n) > MC_POWER_SIGMAS * se


def test_importance_proposal_scale_keeps_the_weights_tame():
    """E_r[(q̂/r)²] = (s²/√(2s²−1))^d for q̂ = N(m, Σ), r = N(m, s²Σ): small in every d."""
    assert ng._is_scale(2) == 1.5
    second = {d: (ng._is_scale(d) ** 2 / np.sqrt(2 * ng._is_scale(d) ** 2 - 1)) ** d
              for d in (2, 10, 30)}
    assert all(1.0 < v < IS_SECOND_MOMENT_MAX for v in second.values()), second
    # why not a fixed 1.5 in 30-D: 253
    assert (1.5**2 / np.sqrt(2 * 1.5**2 - 1)) ** 30 > 50 * IS_SECOND_MOMENT_MAX


def test_kl_to_exact_estimates_a_known_kl_and_its_row_fails_below_zero(rng):
    m, cov = ng.dataset("gauss10")
    m1, cov1 = m + 0.1, 1.1 * cov  # a "trained" law off the exact one by a known KL
    y = rng.multivariate_normal(m1, cov1, size=4000)
    d = y - m1
    lp = (-0.5 * np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov1), d)
          - 0.5 * np.linalg.slogdet(2 * np.pi * cov1)[1])
    est = ng._kl_to_exact(lp, y, m, cov)
    truth = gaussian.kl(m1, cov1, m, cov)
    for key in ("plain", "k3"):
        assert abs(est[key] - truth) <= MC_SIGMAS * est[f"{key}_se"], (key, est, truth)
    rec = {"d": 10, "n_eval": 4000, "diagnostics": [{"kl": 1.0, "kl_se": 0.1, "kl_naive": 1.0,
                                                       "kl_naive_se": 0.2}],
           "ref": {"kl": [2.0, 0.9]}, "kl_to_exact": [est["k3"]],
           "kl_to_exact_se": [est["k3_se"]], "kl_to_exact_plain": [est["plain"]],
           "kl_to_exact_plain_se": [est["plain_se"]], "kl_fit_to_exact": [truth],
           "kl_fit_to_exact_null": [0.01]}
    assert ng._kl_split_check("gauss10", rec).passed
    # log ρ_n too small by 0.2 nats (e.g. a log-det error): KL(ρ_n‖ρ*_n) < 0, the row fails
    bad = ng._kl_to_exact(lp - 0.2 - truth, y, m, cov)
    rec.update(kl_to_exact_plain=[bad["plain"]], kl_to_exact_plain_se=[bad["plain_se"]])
    assert not ng._kl_split_check("gauss10", rec).passed


def _high_d_record(err_cov: float, err_mean: float) -> dict:
    """A minimal 10-D dataset record with the given relative errors at every block."""
    return {"d": 10, "n_eval": 8000, "diagnostics": [{}, {}],
            "rel_cov_err": [err_cov] * 2, "rel_cov_err_mc": [0.05, 0.05],
            "rel_mean_err": [err_mean] * 2, "rel_mean_err_mc": [0.011, 0.011],
            "w2_fit_vs_exact": [0.1, 0.1], "w2_fit_null": [0.05, 0.05]}


def test_relative_moment_row_passes_at_the_floor_and_fails_on_a_wrong_law():
    ok = ng._rel_moment_check("gauss10", _high_d_record(0.05, 0.011))
    assert ok.passed and ok.claim == "C12" and ok.measured < 1
    # a covariance 50% off (e.g. a wrong step size: O(γ) relative) or a mean off by 30% of the
    # spread must fail
    assert not ng._rel_moment_check("gauss10", _high_d_record(0.5, 0.011)).passed
    assert not ng._rel_moment_check("gauss10", _high_d_record(0.05, 0.3)).passed


def test_tiny_run_bookkeeping_in_2d_and_10d(tmp_path):
    """A real run (2 blocks of 10 iterations): the stored errors are those of the stored fits."""
    q = ng.Config.quick()
    cfg = replace(q, flow=replace(q.flow, iters=10, n_train=800), n_eval=300, n_residual=50,
                  n_kl=400, n_check=30, n_null=2)
    res = ng.run(cfg)["datasets"]
    assert set(res) == {"corr", "gauss10"}
    assert "eps_sq_authors" in res["corr"]["diagnostics"][0]  # KDE estimator: 2-D only
    assert "eps_sq_authors" not in res["gauss10"]["diagnostics"][0]
    r = res["gauss10"]
    assert r["d"] == 10 and np.asarray(r["fit_covs"]).shape == (2, 10, 10)
    for k in range(2):
        m, c = np.asarray(r["fit_means"][k]), np.asarray(r["fit_covs"][k])
        ms, cs = np.asarray(r["ref"]["means"][k + 1]), np.asarray(r["ref"]["covs"][k + 1])
        assert r["rel_cov_err"][k] == pytest.approx(
            np.linalg.norm(c - cs) / np.linalg.norm(cs), rel=ROUNDOFF_RTOL)
        assert r["rel_mean_err"][k] == pytest.approx(
            np.linalg.norm(m - ms) / np.sqrt(np.trace(cs)), rel=ROUNDOFF_RTOL)
        assert r["w2_fit_vs_exact"][k] == pytest.approx(gaussian.w2(m, c, ms, cs),
                                                        rel=ROUNDOFF_RTOL)
    assert r["mass_is_scale"] == pytest.approx(ng._is_scale(10))
    from experiments._io import to_jsonable

    rec = to_jsonable({"datasets": res})
    rows = ng.checks(rec)
    assert any("‖Σ̂_n−Σ*_n‖_F" in c.inequality and "gauss10" in c.grid for c in rows)
    assert any("within 4 SE" in c.inequality and "corr" in c.grid for c in rows)
    path = tmp_path / "fig.png"
    ng.plot(rec, path)
    assert path.stat().st_size > 10_000


def test_cases_have_unique_keys_and_reduce_ignores_completion_order():
    """One case per data set; reducing the case values in reversed order gives the same dict."""
    from experiments._cases import execute_case
    from experiments._io import to_jsonable

    q = ng.Config.quick()
    assert [c.key for c in ng.cases(q)] == list(q.datasets)
    cfg = replace(q, flow=replace(q.flow, iters=5, n_train=600), n_eval=200, n_residual=40,
                  n_kl=300, n_check=20, n_null=2)
    values = {c.key: execute_case("neural_gaussian", cfg, c, ng.run_case) for c in ng.cases(cfg)}
    for v in values.values():
        v.pop("wall_s")  # the only timing
    forward = to_jsonable(ng.reduce(cfg, values))
    backward = to_jsonable(ng.reduce(cfg, dict(reversed(values.items()))))
    assert forward == backward and list(backward["datasets"]) == list(cfg.datasets)
