"""Independent oracles: exact references computed the slow, obvious way (enumeration, dense
matrices), sharing no code with latent_lab, so a test that compares the two fails when the
fast implementation is wrong. Keep them small, readable and obviously correct."""

from __future__ import annotations

import itertools
import math

import numpy as np

# ----------------------------------------------------------------------------------- GSSM


def _path_probability(graph, kernels, tokens, path):
    """p(latents along `path`, x_1..len(path)): every latent from its own previous state and
    its parents (latents of the same step, or the previous token for X), then the token."""
    latents, observed = graph.latent_order, graph.node(graph.observed)
    state, previous, probability = dict.fromkeys(latents, 0), 0, 1.0
    for t, step in enumerate(path):
        new = dict(state)
        for i, name in enumerate(latents):
            parents = graph.node(name).parents
            index = (state[name], *(previous if p == "X" else new[p] for p in parents))
            new[name] = step[i]
            probability *= kernels[name][index][new[name]]
        state = new
        probability *= kernels["X"][tuple(state[p] for p in observed.parents)][tokens[t]]
        previous = tokens[t]
    return probability


def gssm_brute_force_nll(graph, kernels, tokens):
    """-ln p(x_t | x_<t) of one sequence by summing p(path, x_1..t) over every latent path
    (exponential: tiny graphs and a handful of tokens only)."""
    latents = graph.latent_order
    dims = [graph.node(name).state_dim for name in latents]
    joint = list(itertools.product(*[range(d) for d in dims]))

    def prefix_probability(length):
        total = 0.0
        for path in itertools.product(joint, repeat=length):
            total += _path_probability(graph, kernels, tokens, path)
        return total

    probabilities = [prefix_probability(t) for t in range(len(tokens) + 1)]
    return -np.log(np.array(probabilities[1:]) / np.array(probabilities[:-1]))


def gssm_dense_matrices(graph, kernels):
    """(transitions[x] S x S, emission S x V) over the joint latent states S: the latents at t+1
    given the latents at t and the token x(t), and the token given the latents."""
    latents = graph.latent_order
    states = np.array(list(itertools.product(*[range(graph.node(n).state_dim) for n in latents])))
    transitions = []
    for x in range(graph.vocab_size):
        matrix = np.ones((len(states), len(states)))
        for i, name in enumerate(latents):
            parents = [
                np.full(len(states), x) if p == graph.observed else states[:, latents.index(p)]
                for p in graph.node(name).parents
            ]
            index = (states[:, i][:, None], *(p[None, :] for p in parents), states[:, i][None, :])
            matrix *= kernels[name][index]
        transitions.append(matrix)
    observed = graph.node(graph.observed)
    emission = kernels[graph.observed][tuple(states[:, latents.index(p)] for p in observed.parents)]
    return np.array(transitions), emission


def gssm_dense_predictive(graph, kernels, tokens):
    """p(x_t = v | x_<t) for every position and value, tokens [N, T] -> [N, T, V]."""
    tokens = np.atleast_2d(np.asarray(tokens))
    transitions, emission = gssm_dense_matrices(graph, kernels)
    out = np.zeros((*tokens.shape, emission.shape[1]))
    for n, sequence in enumerate(tokens):
        belief, previous = np.eye(len(emission))[0], 0
        for t, token in enumerate(sequence):
            belief = belief @ transitions[previous]
            out[n, t] = belief @ emission
            belief = belief * emission[:, token] / out[n, t, token]
            previous = token
    return out


def gssm_dense_forward(graph, kernels, tokens):
    """(-ln p(x_t | x_<t), argmax of the predictive) per position, tokens of shape [N, T] (or
    [T]), by the forward algorithm with dense matrices from the all-zero initial state."""
    tokens = np.asarray(tokens)
    single = tokens.ndim == 1
    tokens = np.atleast_2d(tokens)
    transitions, emission = gssm_dense_matrices(graph, kernels)
    nll, argmax = np.zeros(tokens.shape), np.zeros(tokens.shape, np.int64)
    for n, sequence in enumerate(tokens):
        belief, previous = np.eye(len(emission))[0], 0
        for t, token in enumerate(sequence):
            belief = belief @ transitions[previous]
            predictive = belief @ emission
            nll[n, t], argmax[n, t] = -np.log(predictive[token]), predictive.argmax()
            belief = belief * emission[:, token] / predictive[token]
            previous = token
    return (nll[0], argmax[0]) if single else (nll, argmax)


# ------------------------------------------------------------------------------ char streams


def char_stream_next_character(lines, prefix):
    """{c: p(next character c | the line so far is prefix)} by scanning every (line, probability)
    pair: the mass of the lines (newline appended) that continue prefix with c, normalised."""
    masses = {}
    for line, probability in lines:
        text = line + "\n"
        if len(text) > len(prefix) and text.startswith(prefix):
            character = text[len(prefix)]
            masses[character] = masses.get(character, 0.0) + probability
    total = sum(masses.values())
    return {character: mass / total for character, mass in masses.items()}


def char_stream_window_reference(lines, text):
    """(nll, accuracy), each of length len(text) - 1: at index t the optimum's -ln p of text[t+1]
    and its largest probability, given the line so far (the characters after the last newline at
    or before t); NaN where no newline has been seen yet."""
    nll = np.full(len(text) - 1, np.nan)
    accuracy = np.full(len(text) - 1, np.nan)
    for t in range(len(text) - 1):
        seen = text[: t + 1]
        if "\n" not in seen:
            continue
        distribution = char_stream_next_character(lines, seen[seen.rindex("\n") + 1 :])
        nll[t] = -np.log(distribution[text[t + 1]])
        accuracy[t] = max(distribution.values())
    return nll, accuracy


def gssm_dense_marginals(graph, kernels, tokens, matrices=None):
    """Latent name -> [T, state dim]: the filtering posterior p(Z(t) | x_1..t) of each latent,
    t = 1..T, for one sequence: the dense forward belief after conditioning on x_t, summed
    onto that latent's states. `matrices`: gssm_dense_matrices' result, to reuse it."""
    latents = graph.latent_order
    states = np.array(list(itertools.product(*[range(graph.node(n).state_dim) for n in latents])))
    transitions, emission = matrices or gssm_dense_matrices(graph, kernels)
    emission = np.broadcast_to(emission, (len(states), graph.vocab_size))  # X without parents
    belief, previous, beliefs = np.eye(len(states))[0], 0, []
    for token in tokens:
        belief = belief @ transitions[previous]
        belief = belief * emission[:, token]
        belief = belief / belief.sum()
        beliefs.append(belief)
        previous = token
    beliefs = np.array(beliefs)  # [T, joint states]
    return {
        name: np.stack(
            [beliefs[:, states[:, i] == z].sum(1) for z in range(graph.node(name).state_dim)],
            axis=1,
        )
        for i, name in enumerate(latents)
    }


def gssm_brute_force_marginals(graph, kernels, tokens):
    """The same posterior by enumerating every latent path: p(Z_i(t) = z | x_1..t) =
    sum over paths with Z_i(t) = z of p(path, x_1..t) / p(x_1..t) (tiny graphs, few tokens)."""
    latents = graph.latent_order
    dims = [graph.node(name).state_dim for name in latents]
    joint = list(itertools.product(*[range(d) for d in dims]))
    result = {name: np.zeros((len(tokens), dims[i])) for i, name in enumerate(latents)}
    for length in range(1, len(tokens) + 1):
        for path in itertools.product(joint, repeat=length):
            probability = _path_probability(graph, kernels, tokens, path)
            for i, name in enumerate(latents):
                result[name][length - 1, path[-1][i]] += probability
    for values in result.values():
        values /= values.sum(axis=1, keepdims=True)
    return result


# -------------------------------------------------------------------------------- FSM


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


def fsm_check_references(split, num_states, num_actions, absorbing) -> int:
    """Assert every labelled position's stored seen flag and Bayes probabilities equal the
    brute-force posterior (all tables enumerated); returns how many unseen steps it checked."""
    import pytest

    prior = generator_prior(num_states, num_actions, absorbing)
    digits = table_digits(num_states, num_actions)
    s_max, a_max = split[0]["s_max"], split[0]["a_max"]
    checked_unseen = 0
    for row in split:
        tokens, labels = row["input_ids"], row["labels"]
        observed: dict = {}
        for t in range(2, len(tokens)):
            if not (s_max <= tokens[t - 1] < s_max + a_max and tokens[t] < s_max):
                assert labels[t] == -100  # only next states are ever scored
                continue
            slot = (tokens[t - 2], tokens[t - 1] - s_max)
            seen = slot in observed
            if labels[t] != -100:
                posterior = brute_force_posterior(prior, digits, num_actions, observed, slot)
                assert labels[t] == tokens[t]
                assert row["seen_mask"][t] == int(seen)
                assert row["bayes_correct_prob"][t] == pytest.approx(posterior.max(), abs=1e-12)
                assert row["bayes_true_prob"][t] == pytest.approx(posterior[tokens[t]], abs=1e-12)
                checked_unseen += not seen
            observed.setdefault(slot, tokens[t])
    return checked_unseen
