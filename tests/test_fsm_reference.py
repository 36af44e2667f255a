"""FSM exact Bayes reference (latent_lab/tasks/fsm_icl/reference.py, a dynamic programme over
spanning trees) against brute force: enumerate every random choice of the generator on small
(S, A), giving the exact prior over all S**(S*A) transition tables, and condition on the
transitions observed before each position.
"""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from latent_lab.tasks.builders import build_dataset
from latent_lab.tasks.fsm_icl.generator import FSMVocab, sample_fsm
from latent_lab.tasks.fsm_icl.reference import next_state_posteriors, tree_weight_sums


# ----------------------------------------------------------------------------- brute force
def _attachments(order, attached, tree, num_actions, probability):
    """Every (tree, probability) the spanning-tree step can produce for this attachment order."""
    if not order:
        yield tree, probability
        return
    free = [(p, a) for p in attached for a in range(num_actions) if (p, a) not in tree]
    for slot in free:
        grown = {**tree, slot: order[0]}
        yield from _attachments(
            order[1:], attached + [order[0]], grown, num_actions, probability / len(free)
        )


def generator_prior(num_states, num_actions, absorbing=False) -> np.ndarray:
    """Exact probability of every table (index: slot s*A+a is a base-S digit, slot 0 first)."""
    slots = num_states * num_actions
    place = num_states ** np.arange(slots)[::-1]
    prior = np.zeros(num_states**slots)
    choices = list(range(1, num_states)) if absorbing else [None]
    for b in choices:
        others = [v for v in range(1, num_states) if v != b]
        for order in itertools.permutations(others):
            order = list(order) + ([b] if b is not None else [])
            start = 1 / len(choices) / math.factorial(len(others))
            for tree, probability in _attachments(order, [0], {}, num_actions, start):
                fixed = {s * num_actions + a: v for (s, a), v in tree.items()}
                if b is not None:
                    fixed.update({b * num_actions + a: b for a in range(num_actions)})
                free = [i for i in range(slots) if i not in fixed]
                fills = np.array(list(itertools.product(range(num_states), repeat=len(free))))
                tables = np.zeros((len(fills), slots), dtype=np.int64)
                tables[:, list(fixed)] = list(fixed.values())
                tables[:, free] = fills.reshape(len(fills), len(free))
                np.add.at(prior, tables @ place, probability * num_states ** -len(free))
    return prior


def table_digits(num_states, num_actions) -> np.ndarray:
    slots = num_states * num_actions
    index = np.arange(num_states**slots)
    return (index[:, None] // num_states ** np.arange(slots)[::-1]) % num_states


def brute_force_posterior(prior, digits, num_actions, observed: dict, slot) -> np.ndarray:
    consistent = prior > 0
    for (s, a), next_state in observed.items():
        consistent &= digits[:, s * num_actions + a] == next_state
    values = digits[consistent, slot[0] * num_actions + slot[1]]
    posterior = np.bincount(values, weights=prior[consistent], minlength=digits.max() + 1)
    return posterior / posterior.sum()


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
    prior = generator_prior(num_states, num_actions, absorbing)
    digits = table_digits(num_states, num_actions)
    vocab = FSMVocab()
    checked_unseen = 0
    for row in dataset:
        tokens, labels = row["input_ids"], row["labels"]
        observed: dict = {}
        for t in range(2, len(tokens)):
            if not (vocab.is_action(tokens[t - 1]) and tokens[t] < vocab.s_max):
                assert labels[t] == -100
                continue
            slot = (tokens[t - 2], tokens[t - 1] - vocab.s_max)
            seen = slot in observed
            posterior = brute_force_posterior(prior, digits, num_actions, observed, slot)
            assert labels[t] == tokens[t]  # score_demonstrations: every next state
            assert row["seen_mask"][t] == int(seen)
            assert row["bayes_correct_prob"][t] == pytest.approx(posterior.max(), abs=1e-12)
            assert row["bayes_true_prob"][t] == pytest.approx(posterior[tokens[t]], abs=1e-12)
            checked_unseen += not seen
            observed.setdefault(slot, tokens[t])
    assert checked_unseen > 10
