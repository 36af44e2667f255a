"""The shared generation check: every step's scores from generate() must equal the logits of a
full forward over the sequence so far (what decoding without any cache computes).

Models under test are made context-dependent first (`make_context_dependent`): an untrained tiny
model's output barely depends on earlier tokens, so a broken state or KV carry would still pick
the same argmax. The check therefore compares logits (atol 1e-5), not tokens, and asserts the
model's last-step logits really move when only the first prompt token changes. Models run in
float64, so a KV cache's different summation order stays far below the tolerance.
"""

from __future__ import annotations

import torch

ATOL = 1e-5
MAX_NEW_TOKENS = 6


def make_context_dependent(model, scale: float = 4.0, seed: int = 0):
    """Redraw every weight matrix at `scale` times a unit-variance fan-in init, so hidden units
    saturate less often than they amplify: the output then depends on the whole prefix."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                fan_in = parameter.shape[-1]
                noise = torch.randn(parameter.shape, generator=generator)
                parameter.copy_(noise * scale / fan_in**0.5)
    return model.double().eval()


def full_forward_logits(model, sequences: torch.Tensor, prompt_length: int) -> list[torch.Tensor]:
    """Logits of the next token after each prefix sequences[:, :prompt_length + t], recomputed
    from scratch (no cache) for every step t."""
    with torch.no_grad():
        return [
            model(input_ids=sequences[:, : prompt_length + t], use_cache=False).logits[:, -1]
            for t in range(sequences.shape[1] - prompt_length)
        ]


def assert_context_matters(model, prompt: torch.Tensor) -> None:
    """Changing only the first prompt token must move the last position's logits."""
    changed = prompt.clone()
    changed[:, 0] = (changed[:, 0] + 1) % model.config.vocab_size
    with torch.no_grad():
        a = model(input_ids=prompt, use_cache=False).logits[:, -1]
        b = model(input_ids=changed, use_cache=False).logits[:, -1]
    assert (a - b).abs().max() > 1e-2, "the test model ignores its first token; scale it up"


def generate_steps(model, prompt: torch.Tensor, mode: str):
    """generate() in one decoding mode, returning its output with per-step logits."""
    options = {
        "greedy": dict(do_sample=False),
        "sample": dict(do_sample=True, top_k=0, top_p=1.0, temperature=1.0),
        "beam": dict(do_sample=False, num_beams=3, num_return_sequences=3, length_penalty=0.0),
    }[mode]
    torch.manual_seed(1234)
    with torch.no_grad():
        return model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=MAX_NEW_TOKENS,
            min_new_tokens=MAX_NEW_TOKENS,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=getattr(model.config, "pad_token_id", None) or 0,
            **options,
        )


def assert_generate_matches_full_forwards(model, prompt: torch.Tensor, mode: str) -> None:
    """Every generated step's logits equal a full forward over that step's prefix."""
    assert_context_matters(model, prompt)
    output = generate_steps(model, prompt, mode)
    sequences, steps = output.sequences, output.logits
    assert sequences.shape[1] == prompt.shape[1] + MAX_NEW_TOKENS
    expected = full_forward_logits(model, sequences, prompt.shape[1])
    for t, reference in enumerate(expected):
        if mode == "beam":  # the beam each returned sequence came from at step t
            rows = output.beam_indices[:, t]
            assert (rows >= 0).all()
            step = steps[t][rows]
        else:
            step = steps[t]
        # generate() hands back float32 scores whatever the model's dtype
        reference = reference.to(step.dtype)
        torch.testing.assert_close(step, reference, atol=ATOL, rtol=0, msg=f"step {t} ({mode})")
