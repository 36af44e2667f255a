"""Trivial baselines against closed forms, and the gap-closed fraction both ways."""

import math

import numpy as np
import pytest

from latent_lab.training.baselines import gap_closed, majority_accuracy, unigram_loss


def test_unigram_loss_is_the_entropy_of_the_token_frequencies():
    assert unigram_loss([3, 3, 3, 3]) == 0.0
    assert unigram_loss([0, 1, 2, 3]) == pytest.approx(math.log(4))
    tokens = np.array([[0, 0, 1], [1, 1, 1]])  # frequencies 1/3, 2/3, any shape
    assert unigram_loss(tokens) == pytest.approx(
        -(1 / 3) * math.log(1 / 3) - (2 / 3) * math.log(2 / 3)
    )
    assert math.isnan(unigram_loss([]))


def test_majority_accuracy_always_answers_the_most_frequent():
    assert majority_accuracy(["a", "b", "a", "c"]) == 0.5
    assert majority_accuracy([7]) == 1.0


def test_gap_closed_for_losses_and_accuracies():
    assert gap_closed(0.6, baseline=1 / 3, optimum=0.8666) == pytest.approx(
        (0.6 - 1 / 3) / (0.8666 - 1 / 3)
    )
    assert gap_closed(2.0, baseline=3.0, optimum=1.0) == 0.5  # a loss halfway down
    assert gap_closed(3.0, baseline=3.0, optimum=1.0) == 0.0
    assert math.isnan(gap_closed(1.0, baseline=2.0, optimum=2.0))
