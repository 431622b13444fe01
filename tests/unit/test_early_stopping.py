"""Early stopping keeps the best epoch's weights, by validation loss unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from services.trainer.config import TrainConfig
from services.trainer.train import EarlyStopping


def _model(value: float) -> torch.nn.Linear:
    model = torch.nn.Linear(1, 1)
    torch.nn.init.constant_(model.weight, value)
    return model


def test_loss_lower_is_better_and_best_weights_are_kept() -> None:
    stopper = EarlyStopping("loss", patience=2)
    assert not stopper.update(_model(1.0), {"epoch": 1, "loss": 0.9})
    assert not stopper.update(_model(2.0), {"epoch": 2, "loss": 0.4})
    assert not stopper.update(_model(3.0), {"epoch": 3, "loss": 0.5})
    assert stopper.update(_model(4.0), {"epoch": 4, "loss": 0.6})
    assert stopper.best_scores == {"epoch": 2, "loss": 0.4}
    assert float(stopper.best_state["weight"]) == 2.0


def test_saturated_accuracy_does_not_freeze_the_first_epoch_under_loss() -> None:
    stopper = EarlyStopping("loss", patience=2)
    for epoch, loss in enumerate([1.9, 0.4, 0.09], start=1):
        assert not stopper.update(_model(float(epoch)), {"epoch": epoch, "loss": loss, "accuracy": 1.0})
    assert stopper.best_scores["epoch"] == 3


def test_higher_is_better_for_f1() -> None:
    stopper = EarlyStopping("macro_f1", patience=1)
    stopper.update(_model(1.0), {"macro_f1": 0.5})
    assert stopper.update(_model(2.0), {"macro_f1": 0.5})
    assert stopper.best_scores == {"macro_f1": 0.5}


def test_unknown_metric_is_refused() -> None:
    with pytest.raises(ValueError, match="early_stopping_metric"):
        TrainConfig(train_file=Path("x.csv"), early_stopping_metric="bleu")


def test_the_validation_outputs_kept_are_the_kept_epochs() -> None:
    stopper = EarlyStopping("loss", patience=2)
    assert not stopper.update(_model(1.0), {"loss": 1.0}, {"intent": np.ones(3)})
    assert not stopper.update(_model(2.0), {"loss": 2.0}, {"intent": np.zeros(3)})  # worse: the first stays
    np.testing.assert_array_equal(stopper.best_outputs["intent"], np.ones(3))
    assert not stopper.update(_model(3.0), {"loss": 0.5}, {"intent": np.full(3, 7.0)})
    np.testing.assert_array_equal(stopper.best_outputs["intent"], np.full(3, 7.0))
