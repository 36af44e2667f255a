"""Models: HF configs and causal LMs for what transformers lacks (lstm, rnn), registered with
AutoConfig / AutoModelForCausalLM on import, and the factory that builds every model type."""

from transformers import AutoConfig, AutoModelForCausalLM

from latent_lab.models.arguments import MODEL_TYPES, ModelArguments
from latent_lab.models.factory import build_model, model_config
from latent_lab.models.lstm import LSTMConfig, LSTMForCausalLM
from latent_lab.models.rnn import RNNConfig, RNNForCausalLM
from latent_lab.models.sizing import (
    count_parameters,
    num_parameters,
    solve_hidden_size,
    solve_intermediate_size,
)

# exist_ok: re-importing (e.g. importlib.reload in a notebook) must not fail
for _config_class, _model_class in ((LSTMConfig, LSTMForCausalLM), (RNNConfig, RNNForCausalLM)):
    AutoConfig.register(_config_class.model_type, _config_class, exist_ok=True)
    AutoModelForCausalLM.register(_config_class, _model_class, exist_ok=True)
    # save_pretrained copies the modeling code (lstm.py or rnn.py, recurrent.py,
    # recurrent_cache.py: relative imports only) and writes config.json's auto_map, so
    # AutoModelForCausalLM.from_pretrained(folder_or_repo, trust_remote_code=True) works
    # where latent_lab is not installed.
    _config_class.register_for_auto_class()
    _model_class.register_for_auto_class("AutoModelForCausalLM")

__all__ = [
    "MODEL_TYPES",
    "LSTMConfig",
    "LSTMForCausalLM",
    "ModelArguments",
    "RNNConfig",
    "RNNForCausalLM",
    "build_model",
    "count_parameters",
    "model_config",
    "num_parameters",
    "solve_hidden_size",
    "solve_intermediate_size",
]
