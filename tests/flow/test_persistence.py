"""A user's own data, save/load, content-fingerprinted checkpoints and the torch->numpy crossing.

Tiny flows (d = 2, 2 blocks of 5 Adam iterations, hidden (8, 8)): every check here is exact
(bit-identical weights and outputs, or a ValueError), so no tolerance is involved.
"""

import dataclasses

import numpy as np
import pytest
import torch

from theory.flow import Empirical, FlowConfig, Gaussian, JKOFlow, make_block, to_numpy, train_flow

CFG = FlowConfig(d=2, n_blocks=2, iters=5, batch=64, hidden=(8, 8), n_train=400, seed=3)
KW = dict(n_eval=100, n_residual=20, show_progress=False)
M = 600  # rows of the user's array: 100 held out, 500 left, at most n_train = 400 trained on


def _data(m: int = M, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((m, 2)) * [1.5, 0.5] + [1.0, -1.0]


def _params(flow: JKOFlow) -> list[torch.Tensor]:
    return [p.detach().clone() for p in flow.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module", params=["float32", "float64"])
def trained(request):
    """(cfg, result) of a tiny flow trained on a user's array in each training dtype."""
    cfg = dataclasses.replace(CFG, dtype=request.param)
    return cfg, train_flow(cfg, _data(), **KW)


# --- to_numpy ------------------------------------------------------------------------------------

def test_to_numpy_detaches_and_converts():
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3).requires_grad_(True)
    y = 2.0 * x  # part of a graph: Tensor.numpy() would raise here
    a = to_numpy(y)
    assert a.dtype == np.float64 and a.shape == (2, 3)
    np.testing.assert_array_equal(a, 2.0 * np.arange(6).reshape(2, 3))
    assert to_numpy(y, dtype=None).dtype == np.float32
    assert to_numpy(torch.ones(2, dtype=torch.bfloat16), dtype=None).dtype == np.float32
    assert to_numpy(np.ones(3, dtype=np.float32)).dtype == np.float64
    assert to_numpy([1, 2]).dtype == np.float64


# --- save / load ---------------------------------------------------------------------------------

def test_save_load_round_trip_is_bit_identical(trained, tmp_path):
    cfg, res = trained
    flow = res.flow
    assert flow.config == cfg
    x = _data(50, seed=9)
    # the weights moved away from the identity start, so the round trip has something to lose
    assert not torch.equal(flow.log_prob(x), JKOFlow(config=cfg).log_prob(x))
    flow.save(tmp_path / "flow.pt")
    back = JKOFlow.load(tmp_path / "flow.pt")
    assert back.config == cfg and isinstance(back.config.hidden, tuple)
    assert back.gammas == flow.gammas and len(back) == len(flow)
    assert next(back.parameters()).dtype == cfg.torch_dtype
    assert _same(_params(back), _params(flow))
    assert torch.equal(back.log_prob(x), flow.log_prob(x))
    a = flow.sample(30, generator=torch.Generator().manual_seed(4))
    b = back.sample(30, generator=torch.Generator().manual_seed(4))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    # the file is plain data: loadable without unpickling code
    payload = torch.load(tmp_path / "flow.pt", weights_only=True)
    assert payload["config"]["hidden"] == [8, 8]


def test_save_needs_a_config_that_describes_the_blocks(tmp_path):
    flow = JKOFlow()
    flow.append(make_block(CFG), 0.5)
    with pytest.raises(ValueError, match="config"):
        flow.save(tmp_path / "f.pt")
    flow.config = dataclasses.replace(CFG, hidden=(4,))
    with pytest.raises(ValueError, match="architecture"):
        flow.save(tmp_path / "f.pt")
    assert not (tmp_path / "f.pt").exists()
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="path"):
        JKOFlow.load(tmp_path / "other.pt")


# --- sample / log_prob inputs --------------------------------------------------------------------

def test_log_prob_takes_numpy_and_casts_to_the_flow_dtype(trained):
    cfg, res = trained
    x = _data(40, seed=5)
    lp = res.flow.log_prob(x)
    assert lp.dtype == cfg.torch_dtype and lp.shape == (40,)
    assert torch.equal(lp, res.flow.log_prob(torch.as_tensor(x, dtype=cfg.torch_dtype)))
    assert torch.equal(lp, res.flow.log_prob(torch.as_tensor(x)))  # float64 tensor: cast too
    with pytest.raises(ValueError, match="x must have shape"):
        res.flow.log_prob(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="x must have shape"):
        res.flow.log_prob(np.zeros(5))


def test_sample_of_an_empty_flow_raises():
    with pytest.raises(ValueError, match="empty"):
        JKOFlow().sample(3)
    with pytest.raises(ValueError, match="empty"):
        JKOFlow(config=CFG).sample(3)


# --- a user's own data ---------------------------------------------------------------------------

def test_train_flow_on_a_numpy_array_and_on_a_tensor():
    x = _data()
    a = train_flow(CFG, x, **KW)
    b = train_flow(CFG, torch.as_tensor(x), **KW)
    c = train_flow(CFG, Empirical(x, seed=CFG.seed), **KW)
    assert len(a.flow) == CFG.n_blocks and a.flow.config == CFG
    assert _same(_params(a.flow), _params(b.flow)) and _same(_params(a.flow), _params(c.flow))
    assert a.diagnostics == b.diagnostics
    # a float32 tensor that requires grad is accepted too (detached, widened to float64)
    f32 = torch.as_tensor(x, dtype=torch.float32).requires_grad_(True)
    assert len(train_flow(CFG, f32, **KW).flow) == CFG.n_blocks


def test_held_out_rows_are_never_trained_on():
    x = _data()
    held, train = Empirical(x, seed=CFG.seed).split(KW["n_eval"])
    assert held.shape == (100, 2) and train.shape == (M - 100, 2)
    # disjoint and together all rows (rows are distinct: continuous data)
    rows = {tuple(r) for r in x}
    assert {tuple(r) for r in held}.isdisjoint({tuple(r) for r in train})
    assert {tuple(r) for r in held} | {tuple(r) for r in train} == rows
    base = _params(train_flow(CFG, x, **KW).flow)
    pos = {tuple(r): i for i, r in enumerate(x)}
    # moving a held-out row leaves the weights unchanged; moving a trained row changes them
    x_held = x.copy()
    x_held[pos[tuple(held[0])]] += 5.0
    assert _same(_params(train_flow(CFG, x_held, **KW).flow), base)
    x_train = x.copy()
    x_train[pos[tuple(train[0])]] += 5.0
    assert not _same(_params(train_flow(CFG, x_train, **KW).flow), base)


def test_bad_user_data_raises_named_errors():
    x = _data()
    with pytest.raises(ValueError, match="samples must be an"):
        train_flow(CFG, x[:, 0], **KW)
    with pytest.raises(ValueError, match=r"d=3 columns but cfg\.d=2"):
        train_flow(CFG, np.ones((M, 3)), **KW)
    with pytest.raises(ValueError, match="n_eval"):
        train_flow(CFG, x[:100], **KW)
    bad = x.copy()
    bad[[3, 17], 1] = [np.nan, np.inf]
    with pytest.raises(ValueError, match="NaN or inf in 2 of 600 rows"):
        train_flow(CFG, bad, **KW)


def test_non_finite_samples_of_any_law_raise():
    class Broken(Gaussian):
        def sample(self, n, rng):
            out = super().sample(n, rng)
            out[0, 0] = np.nan
            return out

    with pytest.raises(ValueError, match="NaN or inf in 1 of 400 training rows"):
        train_flow(CFG, Broken([0.0, 0.0], np.eye(2)), **KW)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_huge_data_raises_instead_of_training_to_nan(dtype):
    cfg = dataclasses.replace(CFG, dtype=dtype)
    # float32: the cast overflows; float64: |x|^2 overflows, the loss is inf, Adam's update NaN
    with pytest.raises(ValueError, match="overflows float32" if dtype == "float32" else
                       "block 1: training diverged.*iteration 0"):
        train_flow(cfg, 1e300 * _data(), **KW)


# --- checkpoints ---------------------------------------------------------------------------------

def _truncate(ck, bias_shift: float = 0.0) -> None:
    """Keep block 1 of a checkpoint (optionally with a tampered output bias)."""
    saved = torch.load(ck, weights_only=True)  # plain payload
    saved.update(n_done=1, blocks=saved["blocks"][:1], history=saved["history"][:1])
    key = [k for k in saved["blocks"][0] if k.endswith("bias")][-1]
    saved["blocks"][0][key] = saved["blocks"][0][key] + bias_shift
    torch.save(saved, ck)


def _out_bias(flow: JKOFlow) -> torch.Tensor:
    return flow.blocks[0].field.net[-1].bias.detach().clone()


def test_checkpoint_resume_with_array_data_and_invalidation(tmp_path):
    x = _data()
    ck = tmp_path / "run.pt"
    full = train_flow(CFG, x, checkpoint=ck, **KW)
    _truncate(ck)
    resumed = train_flow(CFG, x, checkpoint=ck, **KW)
    assert _same(_params(resumed.flow), _params(full.flow))
    assert resumed.diagnostics == full.diagnostics
    # the checkpoint is really read: a tampered block 1 comes back ...
    _truncate(ck, bias_shift=0.25)
    used = train_flow(CFG, x, checkpoint=ck, **KW)
    assert torch.equal(_out_bias(used.flow), _out_bias(full.flow) + 0.25)
    # ... but if one training row of the array changed (other fingerprint) it is refused and
    # left as it is, not overwritten
    _truncate(ck, bias_shift=0.25)
    before = ck.read_bytes()
    x2 = x.copy()
    held, train = Empirical(x, seed=CFG.seed).split(KW["n_eval"])
    x2[np.flatnonzero((x == train[0]).all(axis=1))[0]] += 1e-9
    with pytest.raises(ValueError, match=r"checkpoint .*run\.pt.*another run"):
        train_flow(CFG, x2, checkpoint=ck, **KW)
    assert ck.read_bytes() == before


def test_resume_is_exact_with_hutchinson_probes_and_fresh_blocks(tmp_path):
    """Blocks that draw from the global torch RNG (Hutchinson probes, no warm start) resume
    exactly: each block's global RNG is seeded from (cfg.seed, block)."""
    cfg = dataclasses.replace(CFG, div="hutchinson", warm_start=False)
    data = Gaussian([1.0, 0.0], np.eye(2))
    ck = tmp_path / "h.pt"
    full = train_flow(cfg, data, checkpoint=ck, **KW)
    _truncate(ck)
    torch.manual_seed(12345)  # the caller's global RNG state must not matter
    resumed = train_flow(cfg, data, checkpoint=ck, **KW)
    assert _same(_params(resumed.flow), _params(full.flow))


def test_unreadable_checkpoint_is_refused_and_kept(tmp_path):
    ck = tmp_path / "broken.pt"
    ck.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"checkpoint .*broken\.pt.*not a readable"):
        train_flow(CFG, _data(), checkpoint=ck, **KW)
    assert ck.read_bytes() == b"not a checkpoint"
