"""Per-block training schedules of FlowConfig: block_iters, lr_decay, warm_scale."""

import dataclasses

import numpy as np
import pytest
import torch

from theory.flow import FlowConfig, Gaussian, train_flow

CFG = FlowConfig(d=2, n_blocks=2, iters=4, batch=32, hidden=(8, 8), n_train=200)
KW = dict(n_eval=50, n_residual=20, show_progress=False)
DATA = Gaussian([1.0, -0.5], np.eye(2))


def test_block_iters_validated_and_used():
    with pytest.raises(ValueError, match="block_iters"):
        FlowConfig(n_blocks=3, block_iters=(1, 2))
    with pytest.raises(ValueError, match="block_iters"):
        FlowConfig(n_blocks=2, block_iters=(1, -2))
    cfg = dataclasses.replace(CFG, block_iters=(3, 0))
    assert [cfg.iters_of(k) for k in range(2)] == [3, 0]
    tr = train_flow(cfg, DATA, **KW)
    assert [h[-1]["it"] for h in tr.history[:1]] == [2] and tr.history[1] == []
    # zero iterations on a warm start: block 2 is block 1's copy
    for p1, p2 in zip(tr.flow.blocks[0].parameters(), tr.flow.blocks[1].parameters(),
                      strict=True):
        assert torch.equal(p1, p2)


def test_lr_decay_gives_geometric_block_learning_rates():
    cfg = dataclasses.replace(CFG, lr=1e-2, lr_decay=0.5)
    assert [cfg.block_lr(k) for k in range(3)] == [1e-2, 5e-3, 2.5e-3]
    with pytest.raises(ValueError, match="lr_decay"):
        dataclasses.replace(CFG, lr_decay=0.0)


def test_warm_scale_zero_starts_late_blocks_at_the_identity():
    cfg = dataclasses.replace(CFG, block_iters=(5, 0), warm_scale=0.0)
    tr = train_flow(cfg, DATA, **KW)
    x = torch.randn(10, 2)
    y1, _ = tr.flow.blocks[0](x, logdet=False)
    y2, _ = tr.flow.blocks[1](x, logdet=False)
    assert float((y1 - x).abs().max()) > 1e-3  # block 1 learned something
    assert torch.equal(y2, x)  # block 2 = hidden features of block 1, zero output layer
    with pytest.raises(ValueError, match="warm_scale"):
        dataclasses.replace(CFG, warm_scale=-1.0)
