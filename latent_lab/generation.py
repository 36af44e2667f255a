"""Text generation for any latent_lab model: prompts grouped by length (no padding, which
recurrent models cannot skip), a stop string, and nanoGPT-style context cropping when a
transformer's window is shorter than prompt + continuation."""

from __future__ import annotations

from collections import defaultdict

import torch

from latent_lab.errors import UserError


def context_window(model) -> int | None:
    """Longest input a transformer can read; None for recurrent models (no limit)."""
    config = model.config
    if getattr(config, "model_type", None) in ("lstm", "rnn"):
        return None
    return getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)


def check_prompt(tokenizer, text: str, field: str = "--prompt") -> list[int]:
    """Token ids of `text`, or a one-line UserError when the tokenizer cannot represent it: for a
    character tokenizer, characters outside its vocabulary; for any other, text that maps to the
    unknown token or does not survive an encode/decode round trip."""
    shown = repr(text) if len(text) <= 60 else repr(text[:57] + "...")
    vocabulary = tokenizer.get_vocab()
    special = set(tokenizer.all_special_tokens)
    characters = sorted(token for token in vocabulary if token not in special)
    if characters and all(len(token) == 1 for token in characters):  # a character tokenizer
        unknown = sorted(set(text) - set(vocabulary))
        if unknown:
            raise UserError(
                f"{field}: {shown} has characters outside the vocabulary: "
                f"{', '.join(map(repr, unknown))}; use only characters of {''.join(characters)!r}"
            )
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids:
        unknown = _unknown_pieces(tokenizer, text, vocabulary)
        detail = f" ({', '.join(map(repr, unknown[:5]))})" if unknown else ""
        raise UserError(
            f"{field}: {shown} has text the tokenizer does not know{detail}; "
            "use words of the model's vocabulary"
        )
    if tokenizer.decode(ids, clean_up_tokenization_spaces=False) != text:
        raise UserError(
            f"{field}: {shown} does not survive the tokenizer's encode/decode round trip "
            "(unusual spacing or characters?); rewrite it with the model's vocabulary"
        )
    return ids


def _unknown_pieces(tokenizer, text: str, vocabulary: dict) -> list[str]:
    """The pre-tokenized pieces of `text` missing from a word-level vocabulary (for the message)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or backend.pre_tokenizer is None:
        return []
    pieces = backend.pre_tokenizer.pre_tokenize_str(text)
    return [piece for piece, _ in pieces if piece not in vocabulary]


def cut_at_stop(text: str, stop: str | None) -> str:
    if stop:
        index = text.find(stop)
        if index >= 0:
            return text[:index]
    return text


@torch.no_grad()
def generate_continuations(
    model,
    tokenizer,
    prompts: list[str],
    *,
    max_new_tokens: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    stop: str | None = None,
    batch_size: int = 64,
) -> list[str]:
    """Continuation text for each prompt (without the prompt), cut before `stop`."""
    was_training = model.training
    model.eval()
    by_length: dict[int, list[int]] = defaultdict(list)
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    for index, ids in enumerate(encoded):
        by_length[len(ids)].append(index)
    outputs: list[str] = [""] * len(prompts)
    sampling = {"do_sample": do_sample, "temperature": temperature, "top_k": top_k}
    for length in sorted(by_length):
        indices = by_length[length]
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            ids = torch.tensor([encoded[i] for i in chunk], device=model.device)
            new_ids = _generate_ids(model, tokenizer, ids, max_new_tokens, stop, sampling)
            for row, i in enumerate(chunk):
                text = tokenizer.decode(new_ids[row].tolist(), skip_special_tokens=False)
                outputs[i] = cut_at_stop(text, stop)
    model.train(was_training)
    return outputs


def _generate_ids(model, tokenizer, ids, max_new_tokens, stop, sampling) -> torch.Tensor:
    window = context_window(model)
    if window is not None and ids.shape[1] + max_new_tokens > window:
        return _generate_cropped(model, ids, max_new_tokens, window, **sampling)
    stop_ids = tokenizer(stop, add_special_tokens=False)["input_ids"] if stop else []
    kwargs = {}
    if len(stop_ids) == 1:
        kwargs["eos_token_id"] = stop_ids[0]
    elif stop:
        kwargs.update(stop_strings=[stop], tokenizer=tokenizer)
    else:
        kwargs["eos_token_id"] = None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    sample_kwargs = {"do_sample": sampling["do_sample"]}
    if sampling["do_sample"]:
        sample_kwargs.update(temperature=sampling["temperature"], top_k=sampling["top_k"] or 0)
    out = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        pad_token_id=pad,
        **sample_kwargs,
        **kwargs,
    )
    return out[:, ids.shape[1] :]


def _generate_cropped(model, ids, max_new_tokens, window, do_sample, temperature, top_k):
    """nanoGPT's sampling loop: feed at most `window` tokens, pick the next, repeat."""
    sequence = ids
    for _ in range(max_new_tokens):
        logits = model(input_ids=sequence[:, -window:]).logits[:, -1, :].float()
        sequence = torch.cat([sequence, _pick(logits, do_sample, temperature, top_k)], dim=1)
    return sequence[:, ids.shape[1] :]


def _pick(logits, do_sample, temperature, top_k) -> torch.Tensor:
    if not do_sample:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / max(temperature, 1e-8)
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), num_samples=1)
