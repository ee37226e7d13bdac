"""Test configuration: hypothesis profiles (deterministic 'ci' by default), seeded RNGs."""

import os

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True,
                          max_examples=60)
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("JKO_QUIET", "1")


@pytest.fixture
def rng():
    """A fresh seeded generator per test."""
    return np.random.default_rng(20261128)
