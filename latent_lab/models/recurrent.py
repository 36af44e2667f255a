"""Causal-LM machinery shared by the recurrent cores (lstm.py, rnn.py).

Token embedding -> stack of single-layer recurrent modules -> linear LM head. The stack is a
ModuleList (not one multi-layer nn.LSTM) so every layer's output sequence is available to
probes through `output_hidden_states=True`.

generate() carries the recurrent state as a `RecurrentCache` under the name `cache`
(recurrent_cache.py), so after the prompt each step feeds only the newest token. A recurrent model
reads every token it is given and cannot skip padding: right padding is fine for training
(positions after the real tokens never influence earlier ones), but left or interior padding
and any padding during generation raise a ValueError instead of silently giving wrong outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .recurrent_cache import RecurrentCache


class RecurrentConfig(PreTrainedConfig):
    """Fields shared by LSTMConfig and RNNConfig (HF names, so tools read them as usual)."""

    # Trainer drops these output keys when it collects logits for compute_metrics.
    keys_to_ignore_at_inference = ["cache"]

    vocab_size: int = 32
    hidden_size: int = 256
    num_hidden_layers: int = 2
    dropout: float = 0.0
    initializer_range: float = 0.02
    use_cache: bool = True
    tie_word_embeddings: bool = False
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None


@dataclass
class RecurrentCausalLMOutput(ModelOutput):
    """CausalLMOutputWithPast for recurrent models: `cache` holds every layer's state.

    hidden_states (when asked for): (embeddings, layer 1 output, ..., layer N output), each of
    shape (batch, sequence, hidden).
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    cache: RecurrentCache | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


def check_no_skipped_tokens(attention_mask: torch.Tensor | None, continuing: bool) -> None:
    """Raise if the mask asks to skip a token a recurrent model would still read."""
    if attention_mask is None:
        return
    mask = attention_mask.bool()
    after_first_pad = (~mask).cumsum(dim=-1) > 0
    if (after_first_pad & mask).any():
        raise ValueError(
            "recurrent models cannot skip padding: attention_mask has a 0 before a 1 (left or "
            "interior padding); pad on the right, or batch sequences of equal length"
        )
    if continuing and not mask.all():
        raise ValueError(
            "recurrent models cannot skip padding: cannot continue from a state that read padding"
        )


class RecurrentForCausalLM(PreTrainedModel, GenerationMixin):
    """Embedding -> recurrent layers -> LM head; subclasses choose the layer (make_layer)."""

    config: RecurrentConfig
    base_model_prefix = ""
    _is_stateful = True
    # State tensors per layer: 1 for nn.RNN (h), 2 for nn.LSTM (h, c).
    states_per_layer = 1
    _tied_weights_keys = {"lm_head.weight": "embed_tokens.weight"}

    def __init__(self, config: RecurrentConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(
            self.make_layer(config) for _ in range(config.num_hidden_layers)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    @staticmethod
    def make_layer(config: RecurrentConfig) -> nn.RNNBase:
        """One batch-first recurrent layer mapping hidden_size -> hidden_size."""
        raise NotImplementedError("subclasses choose the recurrent layer")

    @torch.no_grad()
    def _init_weights(self, module: nn.Module):
        # PyTorch's own recurrent init, U(-1/sqrt(hidden), 1/sqrt(hidden)), keeps tanh units
        # out of saturation; embeddings and the head use the HF normal(initializer_range).
        if isinstance(module, nn.RNNBase):
            bound = 1.0 / math.sqrt(module.hidden_size)
            for parameter in module.parameters():
                init.uniform_(parameter, -bound, bound)
        else:
            super()._init_weights(module)

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # The state is a tuple of tensors, not a KV cache: generate() must not build one.
        return False

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        cache: RecurrentCache | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> RecurrentCausalLMOutput | tuple:
        """labels are aligned with input_ids (the model shifts them; -100 is ignored).

        `cache` continues from an earlier call's returned cache: `input_ids` then holds only the
        new tokens, and the cache is updated in place. `kwargs` reach the loss (e.g. Trainer's
        num_items_in_batch).
        """
        continuing = cache is not None and cache.layer_state(0) is not None
        check_no_skipped_tokens(attention_mask, continuing=continuing)
        config = self.config
        if use_cache is None:  # as transformers' models: no cache while training
            use_cache = config.use_cache and not self.training
        if output_hidden_states is None:
            output_hidden_states = config.output_hidden_states
        return_dict = config.return_dict if return_dict is None else return_dict
        if use_cache and cache is None:
            cache = RecurrentCache(len(self.layers), self.states_per_layer)

        hidden = self.embed_tokens(input_ids)
        all_hidden = [hidden]
        for index, layer in enumerate(self.layers):
            start = cache.layer_state(index) if cache is not None else None
            hidden, layer_state = layer(self.dropout(hidden), start)
            if use_cache:
                cache.set_layer_state(index, layer_state)
            all_hidden.append(hidden)
        hidden = self.dropout(hidden)
        logits = self.lm_head(hidden[:, -logits_to_keep:] if logits_to_keep else hidden)

        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, vocab_size=config.vocab_size, **kwargs)
        output = RecurrentCausalLMOutput(
            loss=loss,
            logits=logits,
            cache=cache if use_cache else None,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
        )
        return output if return_dict else output.to_tuple()

    def prepare_inputs_for_generation(self, input_ids, attention_mask=None, **kwargs):
        # generate() answers from the last position, so any padding in the prompt is wrong.
        if attention_mask is not None and not bool(attention_mask.bool().all()):
            raise ValueError(
                f"{type(self).__name__}.generate cannot skip padding (it reads every token): "
                "generate prompts of equal length without padding, or one prompt at a time"
            )
        return super().prepare_inputs_for_generation(
            input_ids, attention_mask=attention_mask, **kwargs
        )
