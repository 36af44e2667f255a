"""A word-level Hugging Face tokenizer for the two-hop tables, with a chat template.

Tokens are the words and punctuation marks of every string the two-hop rows can hold
(facts.WORD_PATTERN over facts.vocabulary_texts), each in two forms: bare ("Park") and
with the single space before it (" Park"), plus the newline. The decoder joins tokens with
nothing between them, so decode(encode(text)) == text for every row; anything else (an unknown
word, a double space, a tab) becomes <unk> and is caught by latent_lab.generation.check_prompt.

The chat template renders `<|system|> text<|end|><|user|> text<|end|><|assistant|> text<|end|>`
and, with add_generation_prompt, ends on `<|assistant|>` (the space belongs to the first word's
token). The rendered prompt is therefore an exact token prefix of the rendered prompt +
completion, which is what TRL's prompt/completion format needs to mask the loss to the
completion: " " + the assistant text, and its `<|end|>` (eos).
"""

from __future__ import annotations

from latent_lab.tasks.semi_synthetic import facts

PAD, UNK, END = "<pad>", "<unk>", "<|end|>"
ROLE_TOKENS = {role: f"<|{role}|>" for role in ("system", "user", "assistant")}
SPECIAL_TOKENS = (PAD, UNK, END, *ROLE_TOKENS.values())
# A word or punctuation mark, with the one space before it when there is one; or a newline.
TOKEN_PATTERN = r" ?(?:\w+|[^\w\s])|\n"
# A space after each role marker (sentencepiece's prefix space): a word opening a message is
# then the same token as inside a sentence, so the answer " Yellowstone" learned on first_hop is
# the token a CoT statement ("... is Yellowstone ...") needs, and a name is copied as it is read.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|> ' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def word_tokens(types=facts.TYPES) -> list[str]:
    """The vocabulary after the special tokens: newline, then each word bare and spaced."""
    words = facts.word_vocabulary(types)
    return ["\n", *words, *(f" {word}" for word in words)]


def word_tokenizer(types=facts.TYPES):
    """A PreTrainedTokenizerFast over the words of `types`' tables and the invented people.
    Ids: <pad> 0, <unk> 1, <|end|> 2 (eos), role markers, then word_tokens(types)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocabulary = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    for token in word_tokens(types):
        vocabulary.setdefault(token, len(vocabulary))
    backend = Tokenizer(models.WordLevel(vocabulary, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(TOKEN_PATTERN), behavior="isolated")
    backend.decoder = decoders.Fuse()  # tokens carry their own spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        unk_token=UNK,
        eos_token=END,
        additional_special_tokens=list(ROLE_TOKENS.values()),
        clean_up_tokenization_spaces=False,
        padding_side="left",  # generation pads on the left; the SFT collator pads on its own
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
