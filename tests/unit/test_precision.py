"""The training steps' arithmetic: bfloat16 autocast only where the CPU has it natively, float32 weights."""

from __future__ import annotations

import pytest
import torch

from services.trainer import precision
from services.trainer.config import TrainConfig
from services.trainer.optim import adamw
from services.trainer.precision import resolve_precision, training_autocast


def test_auto_follows_the_cpu_and_an_explicit_choice_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(precision, "native_bf16", lambda native=native: native)
        assert resolve_precision("auto") == expected
        assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto", device="cuda") == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(train_file="t.csv", precision="half")


def test_a_bf16_step_multiplies_in_bfloat16_and_keeps_float32_weights() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 4)
    before = layer.weight.detach().clone()
    optimizer = adamw(layer.parameters(), lr=1e-2, weight_decay=0.0)
    with training_autocast("bf16"):
        out = layer(torch.randn(3, 8))
        loss = out.float().pow(2).mean()
    assert out.dtype == torch.bfloat16
    loss.backward()
    optimizer.step()
    assert layer.weight.dtype == torch.float32 and layer.weight.grad.dtype == torch.float32
    assert not torch.equal(layer.weight.detach(), before)
    with training_autocast("fp32"):
        assert layer(torch.randn(3, 8)).dtype == torch.float32
