"""The recurrent state of lstm/rnn models as a transformers `Cache`, the one object generate()
carries from step to step (transformers >= 5.24 passes only `cache`; a model output named
`state`, as RWKV's, is no longer fed back, so the model would read the newest token alone).

Each model layer is one `RecurrentStateLayer` holding its state tensors, batch first:
h for nn.RNN, (h, c) for nn.LSTM, each shaped (batch, hidden). Being a linear-attention layer
to transformers, it is skipped by the attention-only paths (sequence length, masks) and reordered
along the batch for beam search by the library's own `reorder_cache`.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, LinearAttentionCacheLayerMixin


class RecurrentStateLayer(LinearAttentionCacheLayerMixin):
    """One layer's recurrent state tensors, stored by reference (not copied into a buffer), so a
    state that carries gradients (truncated backprop through time) keeps its graph."""

    def lazy_initialization(self, conv_states=None, recurrent_states=None, state_idx: int = 0):
        if recurrent_states is not None:
            self.dtype, self.device = recurrent_states.dtype, recurrent_states.device
            self.is_recurrent_states_initialized[state_idx] = True

    def update_conv_state(self, conv_states, state_idx: int = 0, **kwargs):
        raise NotImplementedError("recurrent layers have no convolution state")

    def update_recurrent_state(self, recurrent_states, state_idx: int = 0, **kwargs):
        self.lazy_initialization(recurrent_states=recurrent_states, state_idx=state_idx)
        self.recurrent_states[state_idx] = recurrent_states
        self.has_previous_state[state_idx] = True
        return recurrent_states


class RecurrentCache(Cache):
    """The state of every layer of a recurrent stack; `states_per_layer` is 1 (RNN) or 2 (LSTM)."""

    def __init__(self, num_layers: int, states_per_layer: int):
        layers = [RecurrentStateLayer(number_of_states=states_per_layer) for _ in range(num_layers)]
        super().__init__(layers=layers)
        self.states_per_layer = states_per_layer

    def layer_state(self, layer_idx: int):
        """The state nn.RNN / nn.LSTM take, (1, batch, hidden); None before the first token."""
        tensors = [self.get_recurrent_state(layer_idx, k) for k in range(self.states_per_layer)]
        if any(tensor is None for tensor in tensors):
            return None
        tensors = [tensor.unsqueeze(0) for tensor in tensors]
        return tensors[0] if self.states_per_layer == 1 else tuple(tensors)

    def set_layer_state(self, layer_idx: int, state) -> None:
        """Store what nn.RNN / nn.LSTM returned as the layer's state."""
        tensors = (state,) if isinstance(state, torch.Tensor) else tuple(state)
        if len(tensors) != self.states_per_layer:
            raise ValueError(f"expected {self.states_per_layer} state tensors, got {len(tensors)}")
        for k, tensor in enumerate(tensors):
            self.update_recurrent_state(tensor.squeeze(0), layer_idx, state_idx=k)

    def state_tensors(self) -> list[torch.Tensor]:
        """Every state tensor of every layer (what state-size measurements count)."""
        return [
            self.get_recurrent_state(layer_idx, k)
            for layer_idx in range(len(self.layers))
            for k in range(self.states_per_layer)
            if self.get_recurrent_state(layer_idx, k) is not None
        ]
