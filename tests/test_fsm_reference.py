"""FSM exact Bayes reference (latent_lab/tasks/fsm_icl/reference.py, a dynamic programme over
spanning trees) against brute force: enumerate every random choice of the generator on small
(S, A), giving the exact prior over all S**(S*A) transition tables, and condition on the
transitions observed before each position.
"""

import math

import numpy as np
import pytest
from oracles import brute_force_posterior, fsm_check_references, generator_prior, table_digits
from scipy import stats

from latent_lab.tasks.builders import build_dataset
from latent_lab.tasks.fsm_icl.generator import sample_fsm
from latent_lab.tasks.fsm_icl.reference import next_state_posteriors, tree_weight_sums


def test_brute_force_prior_matches_the_sampler():
    """Ties the enumeration to the real sampler: sampled table frequencies fit the prior."""
    for num_states, num_actions, absorbing in [(3, 2, False), (2, 3, False), (3, 2, True)]:
        prior = generator_prior(num_states, num_actions, absorbing)
        assert prior.sum() == pytest.approx(1.0)
        place = num_states ** np.arange(num_states * num_actions)[::-1]
        rng = np.random.default_rng(1)
        draws = 10_000
        index = [
            sample_fsm(rng, num_states, num_actions, absorbing).transitions.ravel() @ place
            for _ in range(draws)
        ]
        observed = np.bincount(index, minlength=len(prior))
        assert observed[prior == 0].sum() == 0
        support = prior > 0
        result = stats.chisquare(observed[support], prior[support] * draws)
        assert result.pvalue > 1e-3, (num_states, num_actions, absorbing, result)


def test_tree_weights_without_observations_have_closed_form():
    # Sum over trees of P(tree) = 1 <=> the DP's unnormalised sum is prod_k (k(A-1)+1) / S
    # (the absorbing state attaches last and is not counted: / (S-1)).
    for num_states, num_actions, absorbing in [(1, 3, -1), (4, 3, -1), (6, 5, -1), (5, 5, 2)]:
        free = np.full((1, num_states), num_actions)
        weight = tree_weight_sums(
            free, np.zeros((1, num_states, num_states)), np.array([absorbing])
        )
        steps = math.prod(k * (num_actions - 1) + 1 for k in range(1, num_states))
        assert weight[0] == pytest.approx(steps / (num_states - (absorbing >= 0)))


def test_posterior_uses_reachability_not_one_over_s():
    # S = 2, A = 2: 0 -a0-> 0 was seen, so the tree edge to state 1 must be 0 -a1-> 1.
    counts = np.array([[[1, 0], [0, 0]]])
    assert next_state_posteriors(counts, [0], 2, absorbing=False)[0] == pytest.approx([0, 1])
    # With nothing observed, a slot of state 0 leads to the not-yet-reached states more often.
    prior = generator_prior(3, 2)
    posterior = brute_force_posterior(prior, table_digits(3, 2), 2, {}, (0, 0))
    dp = next_state_posteriors(np.zeros((1, 3, 3)), [0], 2, absorbing=False)[0]
    assert dp == pytest.approx(posterior)
    assert dp[0] < 1 / 3 < dp[1]


SMALL_CASES = [  # (num_states, num_actions, absorbing, num_demos, demo_length, query_length)
    (2, 2, False, 1, 2, 4),
    (3, 2, False, 2, 2, 5),
    (2, 3, False, 1, 3, 4),
    (3, 2, True, 2, 2, 4),
    (3, 3, False, 2, 3, 5),
]


@pytest.mark.parametrize("case", SMALL_CASES, ids=lambda c: f"{c[0]}s{c[1]}a{'abs' * c[2]}")
def test_stored_bayes_reference_matches_brute_force(case):
    num_states, num_actions, absorbing, demos, demo_length, query_length = case
    fields = dict(num_states=num_states, num_actions=num_actions, absorbing=absorbing)
    fields.update(num_demos=demos, demo_length=demo_length, query_length=query_length)
    sizes = dict(num_train=1, num_validation=1, num_test=25)
    dataset = build_dataset("fsm_icl", "3s3a", score_demonstrations=True, **fields, **sizes)
    dataset = dataset["test"]
    assert fsm_check_references(dataset, num_states, num_actions, absorbing) > 10
