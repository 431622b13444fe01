"""The trainer's AdamW: the fused kernel for float parameters, the same update as the per-tensor loop."""

from __future__ import annotations

import torch

from services.trainer.optim import adamw


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Embedding(50, 16), torch.nn.Linear(16, 4))


def test_fused_adamw_takes_the_per_tensor_loops_steps() -> None:
    fused_model, loop_model = _model(0), _model(0)
    fused = adamw(fused_model.parameters(), lr=1e-2, weight_decay=0.01)
    loop = torch.optim.AdamW(loop_model.parameters(), lr=1e-2, weight_decay=0.01, foreach=False)
    assert fused.defaults["fused"] is True
    tokens = torch.randint(0, 50, (8,))
    for _ in range(5):
        for model, optimizer in ((fused_model, fused), (loop_model, loop)):
            optimizer.zero_grad()
            model(tokens).logsumexp(-1).sum().backward()
            optimizer.step()
    for a, b in zip(fused_model.parameters(), loop_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not torch.equal(fused_model[1].weight, _model(0)[1].weight)  # it did move


def test_parameters_the_fused_kernel_cannot_take_use_the_loop() -> None:
    weights = torch.nn.Parameter(torch.zeros(3, dtype=torch.complex64))
    assert adamw([weights], lr=1e-3, weight_decay=0.0).defaults["fused"] is None
