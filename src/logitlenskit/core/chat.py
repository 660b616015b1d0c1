"""Chat templates: a user message as the model's chat turn, and which tokens are the user's.

A position's kind is ``PROMPT`` (inside the user's text) or ``TEMPLATE`` (role markers,
separators); generation adds ``GENERATED`` for the tokens it writes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PROMPT", "TEMPLATE", "chat_prompt_ids", "chat_text", "has_chat_template"]

PROMPT, TEMPLATE = 0, 1


def has_chat_template(tokenizer: Any) -> bool:
    """Whether the tokenizer has a chat template (an instruction-tuned model's)."""
    return bool(getattr(tokenizer, "chat_template", None))


def chat_prompt_ids(tokenizer: Any, message: str) -> tuple[list[int], list[int]]:
    """A user message in the model's chat template, ready for the assistant's reply.

    Returns:
        (token ids, position kinds): ``PROMPT`` for tokens inside the message's text,
        ``TEMPLATE`` for the rest (role markers, separators, a default system prompt).

    Raises:
        ValueError: the tokenizer has no chat template.
    """
    if not has_chat_template(tokenizer):
        raise ValueError(
            "this model's tokenizer has no chat template: turn chat off (w.chat = False) "
            "or load an instruction-tuned model"
        )
    text = chat_text(tokenizer, message)  # no default system prompt above the question
    start = text.rfind(message)
    span = (start, start + len(message)) if start >= 0 else (0, 0)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    kinds = [
        PROMPT if span[0] <= a and b <= span[1] and b > a else TEMPLATE
        for a, b in encoded["offset_mapping"]
    ]
    return [int(i) for i in encoded["input_ids"]], kinds


def chat_text(tokenizer: Any, message: str) -> str:
    """A user message in the tokenizer's chat template, with no system prompt added.

    Some templates (SmolLM2's) write a default system prompt when the conversation has none,
    and its ~20 tokens would sit above the question. An empty system message keeps it out;
    of the two renderings the shorter is used, so a template without a default (or one that
    folds a system message into the user's turn, as Gemma's) is rendered as it is.
    """
    user = [{"role": "user", "content": message}]
    plain = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    try:
        empty = tokenizer.apply_chat_template(
            [{"role": "system", "content": ""}, *user], add_generation_prompt=True, tokenize=False
        )
    except Exception:  # a template that refuses a system turn has no default one either
        return plain
    return empty if len(empty) < len(plain) else plain
