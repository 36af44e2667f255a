"""LSTM language model as a Hugging Face model (model_type "lstm").

Embedding -> num_hidden_layers single-layer nn.LSTM -> linear head; state (h, c) per layer is
carried through generate() in a RecurrentCache. Shared machinery, padding rules: recurrent.py.
"""

from __future__ import annotations

from torch import nn

from .recurrent import RecurrentConfig, RecurrentForCausalLM


class LSTMConfig(RecurrentConfig):
    """vocab_size, hidden_size, num_hidden_layers, dropout, tie_word_embeddings, token ids."""

    model_type = "lstm"


class LSTMForCausalLM(RecurrentForCausalLM):
    config_class = LSTMConfig
    states_per_layer = 2  # (h, c)

    @staticmethod
    def make_layer(config: LSTMConfig) -> nn.LSTM:
        return nn.LSTM(config.hidden_size, config.hidden_size, batch_first=True)
