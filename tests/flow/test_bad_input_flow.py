"""Bad input to the public API of theory.flow: a ValueError naming the argument, never a NaN.

Covers the held-out default of ``train_flow``, files that are not what they claim
(``JKOFlow.load``, ``checkpoint=``), non-finite / wrongly shaped / empty input to every entry
point, and the validation of every :class:`FlowConfig` field at construction.
"""

import dataclasses

import numpy as np
import pytest
import torch

from theory.flow import (
    Block,
    Circle,
    Empirical,
    EvalState,
    FlowConfig,
    Gaussian,
    GaussianMixture,
    JKOFlow,
    Potential,
    Segment,
    Toy2D,
    VelocityField,
    affine_block_loss,
    authors_residual,
    batch_jacobian,
    block_loss_on_points,
    discrete_logdet,
    divergence,
    exact_residual,
    finite_n_kl_bound,
    flow_kl,
    gamma_schedule,
    gaussian_fit,
    importance_mass,
    integrate,
    jacobian_asymmetry,
    jko_trajectory,
    kde_score,
    kl_from_q_samples,
    kl_k3,
    make_block,
    max_jacobian_norm,
    ou_smooth,
    std_normal_log_prob,
    train_block,
    train_flow,
    w2_emd,
)

TINY = FlowConfig(d=2, n_blocks=1, iters=2, batch=32, hidden=(8,), n_train=200, seed=1)
KW = dict(n_residual=10, show_progress=False)
NAN = float("nan")


def _rows(m: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((m, 2))


def _flow() -> JKOFlow:
    """A float64 one-block flow with a non-trivial field (zero_init off)."""
    cfg = dataclasses.replace(TINY, dtype="float64")
    torch.manual_seed(0)
    blk = make_block(cfg)
    with torch.no_grad():
        blk.field.net[-1].weight.normal_(0.0, 0.1)
    flow = JKOFlow(config=cfg)
    flow.append(blk.double(), 0.5)
    return flow


FLOW = _flow()
BLOCK = FLOW.blocks[0]
X = torch.zeros(4, 2, dtype=torch.float64)
X_NAN = X.clone()
X_NAN[1, 0] = NAN
X_INF = X.clone()
X_INF[2, 1] = float("inf")
RNG = np.random.default_rng(0)


# --- 1. the held-out default of train_flow -------------------------------------------------------

def test_default_holds_out_20_percent_of_a_small_array():
    res = train_flow(TINY, _rows(3000), **KW)
    assert res.final_state.x.shape == (600, 2)


def test_default_holds_out_4000_rows_of_a_large_array_as_before():
    cfg = dataclasses.replace(TINY, iters=1, n_train=50)
    x = _rows(20000)
    a = train_flow(cfg, x, **KW)
    b = train_flow(cfg, x, n_eval=4000, **KW)
    assert a.final_state.x.shape == (4000, 2)
    assert torch.equal(a.final_state.x, b.final_state.x)
    assert a.diagnostics == b.diagnostics


@pytest.mark.parametrize("m", [1, 2])
def test_too_few_rows_for_the_default_split_raise(m):
    with pytest.raises(ValueError, match=r"data has .* rows.*n_eval"):
        train_flow(TINY, _rows(m), **KW)


def test_three_rows_train_on_one():
    res = train_flow(TINY, _rows(3), **KW)
    assert res.final_state.x.shape == (2, 2)


@pytest.mark.parametrize("n_eval", [1, 0, 2.5, True, "10"])
def test_bad_explicit_n_eval_raises(n_eval):
    with pytest.raises(ValueError, match="n_eval"):
        train_flow(TINY, _rows(100), n_eval=n_eval, **KW)


def test_explicit_n_eval_leaving_no_training_row_raises():
    with pytest.raises(ValueError, match="n_eval=100"):
        train_flow(TINY, _rows(100), n_eval=100, **KW)


@pytest.mark.parametrize("kw, match", [
    (dict(authors="yes"), "authors"),
    (dict(kde_h=0.0), "kde_h"),
    (dict(kde_h=NAN), "kde_h"),
    (dict(n_residual=0), "n_residual"),
])
def test_bad_train_flow_settings_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        train_flow(TINY, _rows(100), **{**KW, **kw})


def test_train_flow_needs_a_flow_config():
    with pytest.raises(ValueError, match="cfg"):
        train_flow(dataclasses.asdict(TINY), _rows(100), **KW)


# --- 2. JKOFlow.load on files that are not saved flows -------------------------------------------

def _write(path, kind):
    if kind == "text":
        path.write_text("hello, I am not a checkpoint\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "dict":
        torch.save({"a": 1, "b": torch.zeros(2)}, path)
    elif kind == "tensor":
        torch.save(torch.zeros(3), path)
    elif kind == "tagged":  # the right format tag, nothing else
        torch.save({"format": "theory.flow.JKOFlow/1"}, path)
    elif kind == "checkpoint":
        train_flow(TINY, _rows(100), n_eval=20, checkpoint=path, **KW)
    elif kind == "folder":
        path.mkdir()


@pytest.mark.parametrize("kind", ["text", "empty", "dict", "tensor", "tagged", "checkpoint",
                                  "folder", "missing"])
def test_load_of_a_file_that_is_not_a_saved_flow_names_it(tmp_path, kind):
    path = tmp_path / f"{kind}.pt"
    _write(path, kind)
    with pytest.raises(ValueError, match=f"path .*{kind}\\.pt"):
        JKOFlow.load(path)


def test_load_of_a_flow_saved_on_cuda_without_cuda(tmp_path, monkeypatch):
    path = tmp_path / "flow.pt"
    FLOW.save(path)
    payload = torch.load(path, weights_only=True)
    payload["config"]["device"] = "cuda"
    torch.save(payload, path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"flow\.pt.*CUDA is not available"):
        JKOFlow.load(path)
    flow = JKOFlow.load(path, device="cpu")
    assert flow.config.device == "cpu"
    assert torch.equal(flow.log_prob(X), FLOW.log_prob(X))


# --- 4. checkpoint= never overwrites a file that is not this run's checkpoint --------------------

@pytest.mark.parametrize("kind", ["flow", "other_config", "other_data", "text", "dict"])
def test_checkpoint_path_holding_another_file_is_refused_and_kept(tmp_path, kind):
    ck = tmp_path / "ck.pt"
    if kind == "flow":
        FLOW.save(ck)
    elif kind == "other_config":
        train_flow(dataclasses.replace(TINY, seed=2), _rows(100), n_eval=20, checkpoint=ck, **KW)
    elif kind == "other_data":
        train_flow(TINY, _rows(100, seed=5), n_eval=20, checkpoint=ck, **KW)
    else:
        _write(ck, kind)
    before = ck.read_bytes()
    with pytest.raises(ValueError, match=r"checkpoint .*ck\.pt"):
        train_flow(TINY, _rows(100), n_eval=20, checkpoint=ck, **KW)
    assert ck.read_bytes() == before


def test_checkpoint_of_the_same_run_resumes(tmp_path):
    ck = tmp_path / "ck.pt"
    a = train_flow(TINY, _rows(100), n_eval=20, checkpoint=ck, **KW)
    b = train_flow(TINY, _rows(100), n_eval=20, checkpoint=ck, **KW)
    assert a.diagnostics == b.diagnostics
    assert all(torch.equal(p, q) for p, q in zip(a.flow.parameters(), b.flow.parameters(),
                                                  strict=True))


def test_checkpoint_that_is_not_a_path_raises():
    with pytest.raises(ValueError, match="checkpoint"):
        train_flow(TINY, _rows(100), n_eval=20, checkpoint=42, **KW)


# --- 3. non-finite, misshapen, empty input to every entry point ----------------------------------

def _mix():
    return GaussianMixture(np.zeros((2, 2)), 1.0, 1.0)


BAD_CALLS = [
    # the flow and its blocks
    (lambda: FLOW.log_prob(X_NAN), "x"),
    (lambda: FLOW.log_prob(X_INF.numpy()), "x"),
    (lambda: FLOW.log_prob(np.zeros(2)), "x"),
    (lambda: FLOW.log_prob(np.zeros((4, 3))), "x"),
    (lambda: FLOW.log_prob(np.zeros((0, 2))), "x"),
    (lambda: FLOW.log_prob([["a", "b"]]), "x"),
    (lambda: FLOW.log_prob(np.full((2, 2), 1e200)), "x"),  # finite, but |z|^2 overflows
    (lambda: FLOW(X_NAN), "x"),
    (lambda: FLOW(X.numpy()), "x"),
    (lambda: FLOW(X, upto=1.5), "upto"),
    (lambda: FLOW(X, upto=2), "upto"),
    (lambda: FLOW.inverse(X_INF), "z"),
    (lambda: FLOW.inverse(X[:0]), "z"),
    (lambda: FLOW.inverse(X, start=-1), "start"),
    (lambda: FLOW.sample(0), "n"),
    (lambda: FLOW.sample(3, dtype=torch.int64), "dtype"),
    (lambda: FLOW.sample(3, generator=np.random.default_rng(0)), "generator"),
    (lambda: FLOW.sample(3, steps=0), "steps"),
    (lambda: JKOFlow().sample(3), "empty"),
    (lambda: BLOCK(X_NAN), "x"),
    (lambda: BLOCK(X, steps=0), "steps"),
    (lambda: BLOCK(X[:, 0]), "x"),
    (lambda: BLOCK.inverse(X[:0]), "y"),
    (lambda: BLOCK.inverse(X_INF), "y"),
    (lambda: VelocityField(2, hidden=8), "hidden"),
    (lambda: VelocityField(2, hidden=(8, True)), "hidden"),
    (lambda: VelocityField(2, time_dependent="no"), "time_dependent"),
    (lambda: FLOW.append("block", 0.5), "block"),
    (lambda: integrate(lambda x, t: x, X_NAN), "x"),
    (lambda: integrate(lambda x, t: x, X[:0]), "x"),
    (lambda: integrate(lambda x, t: x, X, t1=NAN), "t1"),
    (lambda: integrate(lambda x, t: x, X, div="hutchinson", probe=torch.ones(3, 2)), "probe"),
    (lambda: divergence(X, X, mode="hutchinson", probe=torch.ones(3, 2)), "probe"),
    (lambda: batch_jacobian(X[:, 0], X), "out"),
    (lambda: std_normal_log_prob(torch.zeros(3)), "z"),
    (lambda: std_normal_log_prob(X_NAN), "z"),
    (lambda: train_block(make_block(TINY), X_NAN.float(), TINY, gamma=0.5), "x_train"),
    (lambda: train_block(make_block(TINY), torch.zeros(4, 3), TINY, gamma=0.5), "x_train"),
    (lambda: EvalState.start(X_NAN.numpy(), None, 2), "x0"),
    (lambda: EvalState.start(np.zeros((0, 2)), None, 2), "x0"),
    (lambda: EvalState.start(X.numpy(), None, 0), "n_residual"),
    # data laws: log_prob and samplers
    (lambda: Gaussian([0.0, 0.0], np.eye(2)).log_prob(X_NAN), "x"),
    (lambda: Gaussian([0.0, 0.0], np.eye(2)).log_prob(torch.zeros(3, 3)), "x"),
    (lambda: Gaussian([0.0, 0.0], np.eye(2)).log_prob(torch.zeros(2)), "x"),
    (lambda: Gaussian([0.0, 0.0], np.eye(2)).sample(3, 0), "rng"),
    (lambda: _mix().log_prob(X_INF), "x"),
    (lambda: _mix().log_prob(X[:0]), "x"),
    (lambda: _mix().log_prob(X, chunk=0), "chunk"),
    (lambda: _mix().sample(3, None), "rng"),
    (lambda: GaussianMixture(np.zeros((2, 2)), [1.0, 1.0, 1.0], 1.0), "stds"),
    (lambda: ou_smooth(np.zeros((3, 2)), 0.1, weights=[1.0, 1.0]), "weights"),
    (lambda: Toy2D("moons").sample(3, 7), "rng"),
    (lambda: Circle(radius=NAN), "radius"),
    (lambda: Circle(radius=-1.0), "radius"),
    (lambda: Circle().sample(3, "seed"), "rng"),
    (lambda: Segment([0.0], [1.0]).sample(3, 1), "rng"),
    (lambda: Empirical(np.zeros((3, 2))).sample(2, 3), "rng"),
    (lambda: Empirical(np.zeros((0, 2))), "samples"),
    # KL estimators and metrics
    (lambda: kl_k3([0.0], [0.0]), "log_p"),
    (lambda: kl_k3([0.0, NAN], [0.0, 0.0]), "log_p"),
    (lambda: kl_k3([0.0, -800.0], [0.0, 0.0]), "log_p"),  # e^{-h} overflows
    (lambda: kl_from_q_samples([0.0, 800.0], [0.0, 0.0]), "log_p"),  # p/q overflows
    (lambda: kl_from_q_samples([0.0], [0.0]), "log_p"),
    (lambda: flow_kl(FLOW, Toy2D("moons"), X), "data"),
    (lambda: flow_kl(FLOW, Gaussian([0.0, 0.0], np.eye(2)), X_NAN), "x"),
    (lambda: w2_emd(np.zeros((0, 2)), np.zeros((3, 2))), "x"),
    (lambda: w2_emd(np.zeros(3), np.zeros(3)), "x"),
    (lambda: gaussian_fit(np.zeros((1, 2))), "x"),
    # residuals
    (lambda: exact_residual(lambda z: (z, z[:, 0] * 0), X_NAN, X, gamma=0.5), "x"),
    (lambda: exact_residual(lambda z: (z, z[:, 0] * 0), X, X_INF, gamma=0.5), "score_in"),
    (lambda: exact_residual(lambda z: (z, z[:, 0] * 0), X[:0], X[:0], gamma=0.5), "x"),
    (lambda: kde_score(np.zeros(5), 0.1), "y"),
    (lambda: authors_residual(np.zeros((4, 2)), np.zeros((4, 2)), gamma=0.5,
                              score=np.full((4, 2), NAN)), "score"),
    (lambda: authors_residual(np.zeros((4, 2)), np.zeros((4, 2)), gamma=0.5,
                              score=np.zeros((3, 2))), "score"),
    (lambda: authors_residual(np.zeros((4, 2)), np.zeros((4, 3)), gamma=0.5), "x_prev"),
    # cross-checks and Jacobians
    (lambda: discrete_logdet(BLOCK, X_NAN, steps=2), "x"),
    (lambda: discrete_logdet(BLOCK, X[:0], steps=2), "x"),
    (lambda: jacobian_asymmetry(np.full((2, 2, 2), NAN)), "jac"),
    (lambda: importance_mass([0.0, 800.0], [0.0, 0.0]), "log_f"),
    (lambda: max_jacobian_norm(lambda z: z, X_NAN), "y"),
    (lambda: max_jacobian_norm(lambda z: z * NAN, X), "fn"),
    (lambda: max_jacobian_norm(lambda z: z, X.numpy()), "y"),
    # Gaussian references and schedules
    (lambda: affine_block_loss([0.0, 0.0], np.eye(2), [[NAN, 0.0], [0.0, 1.0]], [0.0, 0.0],
                               gamma=0.5), "matrix"),
    (lambda: block_loss_on_points(np.zeros((3, 2)), np.zeros((3, 2)), gamma=0.5, div=NAN), "div"),
    (lambda: jko_trajectory([0.0, 0.0], np.eye(2), [0.5, NAN]), "gammas"),
    (lambda: jko_trajectory([0.0, 0.0], np.eye(2), [-0.5]), "gammas"),
    (lambda: jko_trajectory([0.0, 0.0], np.eye(2), []), "gammas"),
    (lambda: finite_n_kl_bound([0.5], NAN, 0.0), "w0"),
    (lambda: finite_n_kl_bound([0.5], 1.0, -1.0), "eps"),
    (lambda: finite_n_kl_bound([0.5, 0.0], 1.0, 0.0), "gammas"),
    (lambda: gamma_schedule("given", 2, 0.5, gammas=0.5), "gammas"),
    (lambda: gamma_schedule("given", 2, 0.5, gammas=(0.5, NAN)), "gammas"),
    (lambda: gamma_schedule("geometric", 2, 0.5, ratio=NAN), "ratio"),
    (lambda: Potential(3.0), "value"),
    (lambda: Potential(lambda y: y.sum(1), grad="no"), "grad"),
]


@pytest.mark.parametrize("call, match", BAD_CALLS)
def test_bad_input_raises_a_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_good_input_still_works():
    lp = FLOW.log_prob(X)
    assert lp.shape == (4,) and bool(torch.isfinite(lp).all())
    x, lq, z = FLOW.sample(5, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5, 2) and bool(torch.isfinite(lq).all())
    assert kl_k3([0.0, 0.1], [0.0, 0.0])[1] > 0.0
    assert Gaussian([0.0, 0.0], np.eye(2)).log_prob(np.zeros((3, 2))).shape == (3,)


def test_single_point_residual_has_no_standard_error_instead_of_nan():
    res = exact_residual(lambda z: (z, z[:, 0] * 0), X[:1], X[:1], gamma=0.5)
    assert res.eps_sq_se is None


# --- 5. every FlowConfig field is validated at construction --------------------------------------

BAD_FIELDS = {
    "d": [0, 2.0, True, "2"],
    "n_blocks": [0, 1.5, False],
    "schedule": ["linear", 1, None],
    "gamma": [0.0, -1.0, NAN, float("inf"), True, "0.5"],
    "ratio": [0.0, NAN, True],
    "gammas": [0.5, (0.5,), (0.5, 0.5, 0.5, -1.0), (0.5, NAN, 0.5, 0.5)],
    "hidden": [(), (0,), (8, -1), 8.5, (8, True), "64", (8.0,), None, True],
    "activation": ["relu", None],
    "softplus_beta": [0.0, NAN, True],
    "time_dependent": ["False", 1, None],
    "steps": [0, 1.5, True],
    "eval_steps": [0, 3.0],
    "step_tol": [0.0, -1.0, NAN, True, "0.01"],
    "step_check_every": [-1, 1.5, True],
    "max_steps": [0, 2, 1.5, True],
    "accept": ["maybe", None, 1, True],
    "accept_se": [0.0, -1.0, NAN, True, "2"],
    "div": ["fast", None],
    "iters": [-1, 1.5, True],
    "block_iters": [(1,), (1, 1, 1, -1), 3, (1, 1, 1, 1.5)],
    "batch": [0, 64.0, True],
    "lr": [0.0, float("inf"), True],
    "lr_min_frac": [0.0, 1.5, NAN, -0.1, True],
    "lr_decay": [0.0, NAN],
    "grad_clip": [0.0, NAN],
    "n_train": [0, 100.0],
    "warm_start": ["False", 0, None],
    "warm_scale": [-1.0, NAN, True],
    "dtype": ["float16", torch.float32],
    "seed": [-1, 2**32, 1.0, True, "0", None],
    "device": ["gpu", "meta", 0, None, "cuda:abc"],
}


def _field_cases():
    names = {f.name for f in dataclasses.fields(FlowConfig)}
    assert set(BAD_FIELDS) == names  # a test per field
    return [(k, v) for k, vals in BAD_FIELDS.items() for v in vals]


@pytest.mark.parametrize("name, value", _field_cases())
def test_bad_field_raises_a_value_error_naming_it(name, value):
    with pytest.raises(ValueError, match=name):
        FlowConfig(**{name: value})


def test_cuda_without_cuda_raises_a_value_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for dev in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match="device.*CUDA is not available"):
            FlowConfig(device=dev)


def test_good_fields_are_accepted_and_normalised():
    cfg = FlowConfig(hidden=16, seed=2**32 - 1, lr_min_frac=1.0, warm_scale=0.0,
                     device=torch.device("cpu"), gammas=[0.5, 0.4, 0.3, 0.2],
                     block_iters=[1, 2, 3, np.int64(4)], d=np.int64(3))
    assert cfg.hidden == (16,) and cfg.device == "cpu"
    assert cfg.gammas == (0.5, 0.4, 0.3, 0.2) and cfg.block_iters == (1, 2, 3, 4)
    assert type(cfg.d) is int and type(cfg.block_iters[3]) is int
    assert FlowConfig(schedule="geometric", gammas=(1.0,) * 4).gamma_list() == (1.0,) * 4
    assert Block(VelocityField(2, hidden=[4]), steps=1)(X.float())[0].shape == (4, 2)
