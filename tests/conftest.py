"""Test configuration: hypothesis profiles (deterministic 'ci' by default), seeded RNGs.

No test sees or leaves hidden global state: numpy randomness comes from the ``rng`` fixture, and
the autouse fixture ``_torch_isolated`` gives every test torch's global RNG seeded with
:data:`TORCH_SEED` inside ``torch.random.fork_rng`` (the state is restored afterwards), and
restores torch's default dtype.
"""

import os

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True,
                          max_examples=60)
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("JKO_QUIET", "1")

#: Seed of numpy's per-test generator and of torch's global RNG at the start of every test.
SEED = 20261128
TORCH_SEED = SEED


@pytest.fixture
def rng():
    """A fresh seeded generator per test."""
    return np.random.default_rng(SEED)


@pytest.fixture(scope="session")
def _torch_session_seeded():
    """Seed torch's global RNG once per session, for module- and class-scoped fixtures.

    Such fixtures are set up before (outside) the per-test fork below; with this seed they draw
    the same numbers on every run of the same selection of tests.
    """
    import torch

    torch.manual_seed(TORCH_SEED)


@pytest.fixture(autouse=True)
def _torch_isolated(_torch_session_seeded):
    """Run each test with torch's RNG forked and seeded, and its default dtype restored.

    torch is imported here, on the first test, rather than at collection: it is needed because
    torch seeds its global generator randomly per process, so a test that first imports torch
    itself would otherwise draw different numbers on every run. The import costs ~1.5 s once (and
    nothing when a test module already imported torch); the fork and seed cost ~0.1 ms per test.
    CUDA generators are forked only once CUDA is initialised (forking them would initialise it).
    """
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    dtype = torch.get_default_dtype()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(TORCH_SEED)
        try:
            yield
        finally:
            torch.set_default_dtype(dtype)
