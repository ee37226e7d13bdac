"""Tests of theory.separable.direct_minimisation: the rotated product is the JKO minimiser.

The check must be able to fail: a reference whose step is wrong in one coordinate (γ = 0.8 used
for 0.5) is not the minimiser of the block-1 objective, and direct minimisation over the
non-product family T_n + ∇ψ_c finds a gain comparable to the start's excess.
"""

import dataclasses

import numpy as np
import pytest

from tests.tolerances import (
    SEP_DIRECT_C_RATIO_MAX,
    SEP_DIRECT_GRAD_RATIO_MAX,
    SEP_DIRECT_MUTANT_C_RATIO_MIN,
    SEP_DIRECT_MUTANT_RATIO_MAX,
    SEP_DIRECT_RATIO_MIN,
)
from theory import separable as sep
from theory.flow import torch_threads

SKEWED = sep.mixture([0.7, 0.3], [-0.6, 1.4], [0.5, 1.0], name="skewed")
GAUSS = sep.mixture([1.0], [0.5], [0.8], name="gaussian")


@pytest.fixture(scope="module")
def refs():
    """(correct, mutated) 2-D references on 80 nodes, one block γ = 0.5."""
    data = sep.RotatedProduct((SKEWED, GAUSS), sep.random_rotation(2, np.random.default_rng(0)))
    ref = sep.separable_jko(data, [0.5], n_nodes=80)
    alt = sep.separable_jko(data, [0.8], n_nodes=80)
    nodes = ref.nodes.copy()
    nodes[1, 0] = alt.nodes[1, 0]
    return ref, dataclasses.replace(ref, nodes=nodes)


def _summary(dc):
    excess = dc.j_start - dc.j0
    return {"feasible": dc.j_start < 1e9, "excess": excess, "ratio": dc.gain / excess,
            "c_ratio": dc.c_min_norm / dc.c_start_norm,
            "grad_ratio": dc.grad0_norm / dc.grad_start_norm}


def test_the_product_is_the_minimiser_up_to_the_discretisation(refs):
    with torch_threads(1):
        dc = sep.direct_minimisation(refs[0], 1)
    s = _summary(dc)
    assert s["feasible"] and s["excess"] > 0, s
    assert s["ratio"] >= SEP_DIRECT_RATIO_MIN, s
    assert s["c_ratio"] <= SEP_DIRECT_C_RATIO_MAX, s
    assert s["grad_ratio"] <= SEP_DIRECT_GRAD_RATIO_MAX, s
    assert dc.n_points == 80 * 80


def test_a_wrong_step_is_beaten_by_a_non_product_map(refs):
    with torch_threads(1):
        dc = sep.direct_minimisation(refs[1], 1)
    s = _summary(dc)
    assert s["feasible"] and s["excess"] > 0, s
    assert s["ratio"] <= SEP_DIRECT_MUTANT_RATIO_MAX, s
    assert s["c_ratio"] >= SEP_DIRECT_MUTANT_C_RATIO_MIN, s
    assert s["grad_ratio"] > SEP_DIRECT_GRAD_RATIO_MAX, s


def test_the_random_start_is_inside_the_family():
    bim = sep.mixture([0.5, 0.5], [-2.0, 2.0], [0.6, 0.6])
    data = sep.RotatedProduct((bim, sep.StudentT1D(5.0, scale=float(np.sqrt(0.6)))),
                              sep.random_rotation(2, np.random.default_rng(0)))
    ref = sep.separable_jko(data, [0.5], n_nodes=40)
    with torch_threads(1):
        dc = sep.direct_minimisation(ref, 1, seed=3, max_iter=0)
    assert dc.j_start < 1e9


@pytest.fixture(scope="module")
def ref3d():
    return sep.separable_jko(sep.RotatedProduct((SKEWED, GAUSS, GAUSS), np.eye(3)), [0.5],
                             n_nodes=20)


@pytest.mark.parametrize("kwargs, arg", [
    ({"n": 0}, "n"),
    ({"n": 2}, "n"),
    ({"n": 1, "start_scale": 0.0}, "start_scale"),
    ({"n": 1, "envelope": -1.0}, "envelope"),
])
def test_bad_input_raises_value_error_naming_the_argument(refs, kwargs, arg):
    with pytest.raises(ValueError, match=rf"\b{arg}\b"):
        sep.direct_minimisation(refs[0], **kwargs)


def test_a_reference_that_is_not_two_dimensional_is_rejected(ref3d):
    with pytest.raises(ValueError, match=r"\bref\b"):
        sep.direct_minimisation(ref3d, 1)
