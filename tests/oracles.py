"""Independent oracles: exact references computed the slow, obvious way (enumeration, dense
matrices), sharing no code with latent_lab, so a test that compares the two fails when the
fast implementation is wrong. Keep them small, readable and obviously correct."""

from __future__ import annotations

import itertools

import numpy as np

# ----------------------------------------------------------------------------------- GSSM


def gssm_brute_force_nll(graph, kernels, tokens):
    """-ln p(x_t | x_<t) of one sequence by summing p(path, x_1..t) over every latent path
    (exponential: tiny graphs and a handful of tokens only)."""
    latents = graph.latent_order
    dims = [graph.node(name).state_dim for name in latents]
    joint = list(itertools.product(*[range(d) for d in dims]))
    observed = graph.node(graph.observed)

    def prefix_probability(length):
        total = 0.0
        for path in itertools.product(joint, repeat=length):
            state, previous, probability = dict.fromkeys(latents, 0), 0, 1.0
            for t in range(length):
                new = dict(state)
                for i, name in enumerate(latents):
                    parents = graph.node(name).parents
                    index = (state[name], *(previous if p == "X" else new[p] for p in parents))
                    new[name] = path[t][i]
                    probability *= kernels[name][index][new[name]]
                state = new
                probability *= kernels["X"][tuple(state[p] for p in observed.parents)][tokens[t]]
                previous = tokens[t]
            total += probability
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
