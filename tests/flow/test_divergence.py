"""The divergence carried through the MLP (``div="exact"``) against the autograd oracle.

Oracles: ``torch.autograd.functional.jacobian`` (trace of the full Jacobian, row by row) and the
d-pass autograd divergence (``div="autograd"``); for parameter gradients, the double backward of
the autograd route. Densities are checked for unit mass by quadrature in d = 1 and 2.
"""

import numpy as np
import pytest
import torch

from tests.tolerances import FLOW_ROUNDOFF_ATOL, GRID_MASS_ATOL
from theory.flow import Block, JKOFlow, VelocityField, divergence, integrate
from theory.flow._block import ACTIVATIONS

#: hidden-layer shapes that exercise every branch of forward_div (1, 2, 3 and 5 hidden layers)
SHAPES = [(16,), (12, 20), (16, 32, 8), (5, 6, 7, 8, 9)]


def _field(d, hidden, activation, seed=0, time_dependent=True, scale=0.7):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        f = VelocityField(d, hidden, activation, time_dependent=time_dependent, zero_init=False,
                          softplus_beta=5.0 if activation == "softplus" else 20.0).double()
        with torch.no_grad():
            for p in f.parameters():
                p.normal_(0.0, scale)
    return f


def _points(n, d, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, dtype=torch.float64, generator=g),
            torch.rand(n, 1, dtype=torch.float64, generator=g))


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1.0))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("hidden", SHAPES)
@pytest.mark.parametrize("d", [1, 2, 5, 20])
def test_forward_div_equals_autograd_divergence(activation, hidden, d):
    f = _field(d, hidden, activation, seed=d)
    x, t = _points(40, d)
    xs = x.clone().requires_grad_(True)
    out, div = f.forward_div(xs, t)
    oracle = divergence(f(xs, t), xs, mode="autograd")
    torch.testing.assert_close(out, f(x, t), atol=FLOW_ROUNDOFF_ATOL, rtol=0)
    assert _rel(div, oracle) < FLOW_ROUNDOFF_ATOL
    # the divergence is not trivially small: a wrong trace would show
    assert float(oracle.abs().max()) > 0.1


@pytest.mark.parametrize("hidden", SHAPES)
@pytest.mark.parametrize("time_dependent", [True, False])
def test_forward_div_equals_trace_of_full_jacobian(hidden, time_dependent):
    d = 3
    f = _field(d, hidden, "softplus", seed=7, time_dependent=time_dependent)
    x, t = _points(6, d, seed=3)
    _, div = f.forward_div(x, t)
    for i in range(6):
        jac = torch.autograd.functional.jacobian(lambda z, i=i: f(z[None], t[i:i + 1])[0], x[i])
        assert abs(float(div[i]) - float(torch.trace(jac))) < FLOW_ROUNDOFF_ATOL


@pytest.mark.parametrize("hidden", SHAPES)
@pytest.mark.parametrize("d", [2, 20])
def test_forward_hutchinson_equals_autograd_hutchinson(hidden, d):
    f = _field(d, hidden, "tanh", seed=11)
    x, t = _points(30, d)
    v = torch.randint(0, 2, (30, d), generator=torch.Generator().manual_seed(5)).double() * 2 - 1
    xs = x.clone().requires_grad_(True)
    _, est = f.forward_div(xs, t, v)
    oracle = divergence(f(xs, t), xs, mode="hutchinson", probe=v)
    assert _rel(est, oracle) < FLOW_ROUNDOFF_ATOL


@pytest.mark.parametrize("hidden", [(12, 20), (16, 32, 8)])
def test_parameter_and_input_gradients_match_the_double_backward(hidden):
    # training differentiates the log-det in the parameters (and residuals in x); the single
    # backward through forward_div must equal the double backward through autograd
    d = 4
    x, _ = _points(25, d)
    grads = {}
    for mode in ("exact", "autograd"):
        f = _field(d, hidden, "softplus", seed=2)
        blk = Block(f, steps=2, div=mode)
        xs = x.clone().requires_grad_(True)
        y, ell = blk(xs, create_graph=True)
        loss = (y ** 2).sum() / 2 - ell.sum()
        ps = list(f.parameters())
        g = torch.autograd.grad(loss, ps + [xs])
        grads[mode] = torch.cat([gi.reshape(-1) for gi in g])
    assert _rel(grads["exact"], grads["autograd"]) < FLOW_ROUNDOFF_ATOL


def test_integrated_logdet_agrees_across_routes_and_matches_forward():
    f = _field(5, (16, 16), "silu", seed=4, scale=0.4)
    x, _ = _points(50, 5)
    y1, l1 = integrate(f, x, steps=4, div="exact")
    y2, l2 = integrate(f, x, steps=4, div="autograd")
    torch.testing.assert_close(y1, y2, atol=FLOW_ROUNDOFF_ATOL, rtol=0)
    assert _rel(l1, l2) < FLOW_ROUNDOFF_ATOL
    assert float(l2.abs().max()) > 0.05


class _NoFusedField(torch.nn.Module):
    """A user's field without ``forward_div``: ``div="exact"`` falls back to autograd."""

    d = 2

    def forward(self, x, t):
        return torch.tanh(x[:, [1, 0]] * x) + t


def test_exact_mode_falls_back_to_autograd_for_other_fields():
    x, _ = _points(10, 2)
    _, l1 = integrate(_NoFusedField(), x, steps=3, div="exact")
    _, l2 = integrate(_NoFusedField(), x, steps=3, div="autograd")
    torch.testing.assert_close(l1, l2, atol=0, rtol=0)


@pytest.mark.parametrize("hidden", [(16, 16), (8, 8, 8)])
def test_one_dimensional_generated_density_integrates_to_one(hidden):
    flow = JKOFlow()
    for s in (3, 4):
        flow.append(Block(_field(1, hidden, "softplus", seed=s, scale=0.4), steps=8), 0.5)
    g = np.linspace(-12.0, 12.0, 4001)
    pts = torch.as_tensor(g[:, None])
    dens = torch.exp(flow.log_prob(pts)).detach().numpy()
    assert abs(np.trapezoid(dens, g) - 1.0) < GRID_MASS_ATOL
    # the flow is far from the identity, so a wrong log-det would change the mass
    z, _ = flow(pts)
    assert float((z - pts).abs().max()) > 0.3
