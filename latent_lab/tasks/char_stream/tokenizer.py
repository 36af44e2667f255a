"""A character-level Hugging Face tokenizer whose ids are nanoGPT's stoi.

Id i is the i-th character of the sorted vocabulary, with nothing inserted before or among
them, so ids match the char_stream builder's input_ids and nanoGPT's meta.pkl. The newline
is both eos (generation stops at the end of a line) and pad; decode(encode(text)) == text.
"""

from __future__ import annotations

from collections.abc import Iterable

from latent_lab.errors import UserError

END_OF_LINE = "\n"


def _sorted_characters(vocab: str | Iterable[str]) -> list[str]:
    entries = list(vocab)
    for entry in entries:
        if not isinstance(entry, str) or len(entry) != 1:
            raise UserError(f"vocab: entries must be single characters, got {entry!r}")
    characters = sorted(set(entries))
    if END_OF_LINE not in characters:
        raise UserError("vocab: must contain '\\n', the end-of-line (eos and pad) token")
    return characters


def char_tokenizer(vocab: str | Iterable[str]):
    """A PreTrainedTokenizerFast over the sorted set of `vocab`'s characters."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    characters = _sorted_characters(vocab)
    # No unk token: an unknown character is an error (see encode_checked), never dropped.
    backend = Tokenizer(models.WordLevel({c: i for i, c in enumerate(characters)}, unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()  # join characters back with nothing between them
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=END_OF_LINE,
        pad_token=END_OF_LINE,
        clean_up_tokenization_spaces=False,  # spaces are data here, keep them as they are
    )


def dataset_vocabulary(dataset_dict) -> list[str]:
    """The sorted characters of every split's `text`: the builder's and nanoGPT's vocabulary."""
    characters: set[str] = set()
    for split in dataset_dict.values():
        characters.update(split_text(split))
    return sorted(characters)


def split_text(split) -> str:
    """A split's `text` joined, read from Arrow at once (iterating rows is 100x slower); the
    Arrow format gives the rows the split shows (a select/shuffle/filter view: its own)."""
    table = split.select_columns("text").with_format("arrow")[:]
    return "".join(table.column("text").to_pylist())


def tokenizer_from_dataset(dataset_dict):
    """The character tokenizer of a char_stream DatasetDict (ids equal its input_ids)."""
    return char_tokenizer(dataset_vocabulary(dataset_dict))


def encode_checked(tokenizer, text: str, field: str = "prompt") -> list[int]:
    """Token ids of `text`; characters outside the vocabulary are a one-line UserError."""
    vocabulary = tokenizer.get_vocab()
    unknown = sorted(set(text) - set(vocabulary))
    if unknown:
        known = "".join(sorted(vocabulary))
        shown = repr(text) if len(text) <= 60 else repr(text[:57] + "...")
        raise UserError(
            f"{field}: {shown} has characters outside the vocabulary: "
            f"{', '.join(map(repr, unknown))}; use only characters of {known!r}"
        )
    return tokenizer(text, add_special_tokens=False)["input_ids"]
