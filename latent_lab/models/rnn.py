"""Vanilla (Elman, tanh) RNN language model as a Hugging Face model (model_type "rnn").

Embedding -> num_hidden_layers single-layer nn.RNN(tanh) -> linear head; the hidden state per
layer is carried through generate(). Shared machinery and the padding rules: recurrent.py.
"""

from __future__ import annotations

from torch import nn

from .recurrent import RecurrentConfig, RecurrentForCausalLM


class RNNConfig(RecurrentConfig):
    """vocab_size, hidden_size, num_hidden_layers, dropout, tie_word_embeddings, token ids."""

    model_type = "rnn"


class RNNForCausalLM(RecurrentForCausalLM):
    config_class = RNNConfig

    @staticmethod
    def make_layer(config: RNNConfig) -> nn.RNN:
        return nn.RNN(config.hidden_size, config.hidden_size, nonlinearity="tanh", batch_first=True)
