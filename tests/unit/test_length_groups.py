"""The classifier's runs cut by length (`length_groups`): every row once, at most `max_rows` rows and
`max_tokens` padded tokens a run, a long text among short ones run apart, and the cut the cheapest of all
contiguous cuts of the sorted order."""

from __future__ import annotations

import itertools
import random

import numpy as np

from shared.runtime.classifier import length_groups


def _cost(groups: list[np.ndarray], lengths: np.ndarray, run_cost: int) -> int:
    return sum(run_cost + len(g) * int(lengths[g].max()) for g in groups)


def _cheapest(lengths: np.ndarray, max_rows: int, max_tokens: int, run_cost: int) -> int:
    """Brute force: every way of cutting the sorted order into runs within both caps."""
    ordered = np.sort(lengths)
    best = None
    for cuts in itertools.product((False, True), repeat=len(ordered) - 1):
        bounds = [0, *(i + 1 for i, cut in enumerate(cuts) if cut), len(ordered)]
        runs = [ordered[a:b] for a, b in itertools.pairwise(bounds)]
        if any(len(run) > max_rows or (len(run) > 1 and len(run) * run.max() > max_tokens) for run in runs):
            continue
        cost = sum(run_cost + len(run) * int(run.max()) for run in runs)
        best = cost if best is None else min(best, cost)
    assert best is not None
    return best


def test_every_row_once_and_no_run_over_the_cap() -> None:
    lengths = np.array(random.Random(3).choices(range(3, 90), k=500))
    groups = length_groups(lengths, max_rows=32, max_tokens=600)
    assert sorted(np.concatenate(groups).tolist()) == list(range(500))
    assert max(len(g) for g in groups) <= 32
    assert all(len(g) * lengths[g].max() <= 600 for g in groups)
    assert length_groups(np.array([700, 800]), max_tokens=600)[0].size == 1  # a longer row runs alone
    assert all(lengths[g].max() <= lengths[h].min() for g, h in itertools.pairwise(groups))  # sorted runs


def test_a_long_text_among_short_ones_runs_apart() -> None:
    lengths = np.array([10, 12, 40, 11, 13, 9, 12, 14])
    groups = length_groups(lengths, max_rows=8, run_cost=12)
    assert [g.tolist() for g in groups if 2 in g] == [[2]]
    assert length_groups(np.array([12, 13, 12, 14]), max_rows=8, run_cost=12)[0].size == 4  # alike: one run


def test_the_cut_is_the_cheapest_of_all() -> None:
    rng = random.Random(11)
    for _ in range(40):
        lengths = np.array([rng.choice((4, 6, 15, 16, 30, 61)) for _ in range(rng.randint(1, 10))])
        max_rows, run_cost = rng.choice((2, 3, 8)), rng.choice((0, 5, 12, 40))
        max_tokens = rng.choice((40, 100, 1000))
        groups = length_groups(lengths, max_rows=max_rows, max_tokens=max_tokens, run_cost=run_cost)
        assert _cost(groups, lengths, run_cost) == _cheapest(lengths, max_rows, max_tokens, run_cost)
