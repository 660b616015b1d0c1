"""What a lens is fitted on: text, each layer's states over it, and the weights it belongs to.

Fitting is not a lens run: it reads every layer's block output over thousands of tokens
with plain torch forward hooks on the Hugging Face modules (no trace, nothing remote).
When no text is given the model writes its own, by sampling from a few neutral starts
(the suggestion of tuned-lens issue 136: no data set to download, and the states are the
ones the model produces on its own distribution).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from ..core.adapter import ModelAdapter
from ..core.architectures import get_model_config
from ..core.request import is_nnterp, model_tokenizer

__all__ = [
    "STARTS",
    "LensData",
    "adapter_for",
    "draw",
    "read_states",
    "sample_text",
    "weights_hash",
]

#: Where sampled text begins: short and neutral, so the model writes what it likes.
STARTS = ("The", "In", "A", "It", "One", "When", "This", "We", "1.", "def", "Once", "There")

#: ``(first_row, first_position, states [L, B, P, d])``: see :func:`sample_text`.
StatesSink = Callable[[int, int, torch.Tensor], None]

#: Elements read from each parameter tensor for the weights hash (evenly strided).
HASH_SAMPLES = 4096


def adapter_for(model: Any) -> ModelAdapter:
    """The model's parts: nnterp's names when it has them, else the registry's."""
    architecture = None if is_nnterp(model) else get_model_config(model)
    return ModelAdapter(model, architecture)


def hf_model(model: Any) -> torch.nn.Module:
    """The underlying transformers model (the nnsight wrapper's ``_model``)."""
    return getattr(model, "_model", model)


def weights_hash(model: Any) -> str:
    """A stable hash of the model's weights: names, shapes, dtypes and a strided sample.

    Reading ``HASH_SAMPLES`` evenly spaced elements of each tensor costs milliseconds and
    still changes with any fine-tune (which moves nearly every weight). Sums are avoided on
    purpose: their rounding depends on the thread count, so they would not be stable.

    Raises:
        ValueError: the weights are not here (a model made for NDIF, on the meta device).
    """
    digest = hashlib.sha256()
    for name, param in sorted(hf_model(model).named_parameters(), key=lambda item: item[0]):
        if param.device.type == "meta":
            raise ValueError(
                f"the model's weights are not loaded here ({name} is on the meta device): a "
                "lens is keyed by its weights, so fit or load it with a model loaded locally"
            )
        flat = param.detach().reshape(-1)
        step = max(1, flat.numel() // HASH_SAMPLES)
        sample = flat[::step][:HASH_SAMPLES].to("cpu", torch.float32).contiguous()
        digest.update(f"{name}|{tuple(param.shape)}|{param.dtype}|".encode())
        digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:32]


def sample_text(
    model: Any,
    n_tokens: int,
    *,
    seq_len: int = 128,
    seed: int = 0,
    batch: int = 128,
    control: Any = None,
    on_states: StatesSink | None = None,
) -> torch.Tensor:
    """Token ids ``[N, seq_len]`` the model writes itself, sampled at temperature 1.

    Each sequence starts from one of :data:`STARTS` (after the tokenizer's BOS, if it adds
    one) and is sampled without stopping at end-of-text, so every row is ``seq_len`` long.
    Seeded: the same model, seed and sizes give the same text.

    Args:
        model: the model (nnsight wrapper or transformers model, with a tokenizer).
        n_tokens: how many tokens in all (rounded up to whole sequences).
        seq_len: each sequence's length, start included.
        seed: the sampling seed.
        batch: sequences sampled at once (a larger batch makes fuller matrix products).
        control: ``check()`` and ``progress(fraction, status)``, or None.
        on_states: called as the text is written with ``(first_row, first_position,
            states)``: every layer's block output ``[L, B, P, d]`` (float32) of rows
            ``first_row ..`` at positions ``first_position ..``. The sampling pass computes
            these states anyway, so a fit needs no second pass over the text; every
            position's state arrives, the last one's from one extra step.
    """
    tokenizer = model_tokenizer(model)
    hf = hf_model(model)
    adapter = adapter_for(model)
    cache = adapter.cache_argument()
    layers = adapter.layer_modules() if on_states is not None else []
    n_seqs = max(1, -(-n_tokens // seq_len))
    starts = [tokenizer(s)["input_ids"] for s in STARTS]
    rows: list[torch.Tensor] = []
    generator = torch.Generator().manual_seed(seed)
    done = 0
    while done < n_seqs:
        size = min(batch, n_seqs - done)
        # One start length per batch, so no padding (and no attention mask) is needed.
        first = starts[(done // batch) % len(starts)]
        order = [s for s in starts if len(s) == len(first)]
        pick = torch.randint(len(order), (size,), generator=generator)
        ids = torch.tensor([order[i] for i in pick.tolist()])
        seed_here = int(torch.randint(2**31, (1,), generator=generator))
        sink = None if on_states is None else functools.partial(on_states, done)
        rows.append(_sample(hf, cache, ids, seq_len, seed_here, _Capture(layers, sink)))
        done += size
        if control is not None:
            control.check()
            control.progress(done / n_seqs, f"writing text: {done * seq_len} tokens")
    return torch.cat(rows)[:n_seqs]


class _Capture:
    """Every decoder layer's output over the sampling steps, handed on in blocks.

    Args:
        layers: the decoder layers to read (none: nothing is captured).
        sink: ``(first_position, states [L, B, P, d])``, or None.
    """

    #: About how many tokens (batch × steps) a block holds before it is handed on.
    block_tokens = 4096

    def __init__(
        self, layers: Sequence[torch.nn.Module], sink: Callable[[int, torch.Tensor], None] | None
    ) -> None:
        self.layers = list(layers) if sink is not None else []
        self.sink = sink
        self.outputs: list[torch.Tensor] = []
        self.position = 0

    def hooks(self) -> contextlib.AbstractContextManager[None]:
        return _hooks(self.layers, self.outputs)

    def flush(self, last: bool) -> None:
        """Hand the captured steps on when a block is full (or the text is written)."""
        if self.sink is None or not self.outputs:
            return
        n = len(self.layers)
        held = sum(out.shape[0] * out.shape[1] for out in self.outputs[::n])
        if not last and held < self.block_tokens:
            return
        states = torch.stack(
            [torch.cat(self.outputs[layer::n], dim=1) for layer in range(n)]
        ).float()
        self.outputs.clear()
        self.sink(self.position, states)
        self.position += states.shape[2]


def _sample(
    hf: torch.nn.Module, name: str, ids: torch.Tensor, seq_len: int, seed: int, capture: _Capture
) -> torch.Tensor:
    """``ids`` continued by plain sampling to ``seq_len`` tokens, with a KV cache.

    ``name``: the forward argument (and output field) of the KV cache. When ``capture``
    reads states, the last token is fed once more so its state is read too.
    """
    generator = torch.Generator().manual_seed(seed)
    out, step, past = ids, ids, {}
    with torch.no_grad(), capture.hooks():
        while out.shape[1] < seq_len or capture.layers:
            result = hf(input_ids=step, use_cache=True, **past)
            written = out.shape[1] >= seq_len
            capture.flush(last=written)
            if written:
                break
            cache = getattr(result, name, None)
            past = {name: result.past_key_values if cache is None else cache}
            step = draw(result.logits[:, -1], generator)
            out = torch.cat([out, step], dim=1)
    return out


#: Vocabulary entries per block of :func:`draw`'s two-level search.
DRAW_BLOCK = 256


def draw(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One token per row of ``logits [B, V]``, sampled from their softmax: ``[B, 1]``.

    Inverse-CDF sampling in two levels: a uniform in ``[0, total)`` finds a block of
    :data:`DRAW_BLOCK` entries by the blocks' float64 sums, then the entry inside it. This
    is exact sampling (a test checks the frequencies), at a fraction of the cost of
    ``torch.multinomial``, which took 1.05 s a step for 128 rows of Gemma 3's 262k
    vocabulary on these 2 cores against 0.2 s here (49k: 0.20 s against 0.02 s).
    Searching with ``right=True`` never picks an entry of weight 0.
    """
    rows, vocab = logits.shape
    weights = torch.exp(logits.float() - logits.float().amax(-1, keepdim=True))
    weights = torch.nn.functional.pad(weights, (0, (-vocab) % DRAW_BLOCK))
    blocks = weights.view(rows, -1, DRAW_BLOCK)
    sums = blocks.sum(-1, dtype=torch.float64)
    cdf = sums.cumsum(-1)
    u = torch.rand(rows, 1, generator=generator, dtype=torch.float64) * cdf[:, -1:]
    block = torch.searchsorted(cdf, u, right=True).clamp_max(cdf.shape[1] - 1)
    inside = blocks[torch.arange(rows), block[:, 0]].double().cumsum(-1)
    rest = u - (cdf.gather(1, block) - sums.gather(1, block))
    entry = torch.searchsorted(inside, rest, right=True).clamp_max(DRAW_BLOCK - 1)
    return (block * DRAW_BLOCK + entry).clamp_max(vocab - 1)


def encode_text(model: Any, text: Sequence[str], seq_len: int = 256) -> list[torch.Tensor]:
    """The user's strings as token-id rows of at most ``seq_len`` (longer ones are cut)."""
    tokenizer = model_tokenizer(model)
    rows = []
    for string in text:
        ids = tokenizer(string)["input_ids"]
        for start in range(0, len(ids), seq_len):
            piece = ids[start : start + seq_len]
            if len(piece) > 1:
                rows.append(torch.tensor(piece))
    if not rows:
        raise ValueError("text holds no string of two tokens or more to fit a lens on")
    return rows


@contextlib.contextmanager
def _hooks(layers: Sequence[torch.nn.Module], into: list[torch.Tensor]) -> Iterator[None]:
    def keep(_module: Any, _inputs: Any, output: Any) -> None:
        into.append((output[0] if isinstance(output, tuple) else output).detach())

    handles = [layer.register_forward_hook(keep) for layer in layers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def read_states(model: Any, ids: torch.Tensor) -> torch.Tensor:
    """Every layer's block output over ``ids [B, P]``: ``[L, B, P, d]`` float32.

    Plain forward hooks on the decoder layers (what the capture core reads as kind 0).
    Only the last position's logits are computed: the states are what is wanted, and every
    position's logits would cost more than the layers on a large vocabulary (Gemma 3:
    262k × 640, 4 GB for 4,096 tokens).
    """
    adapter = adapter_for(model)
    captured: list[torch.Tensor] = []
    with _hooks(adapter.layer_modules(), captured), torch.no_grad():
        hf_model(model)(input_ids=ids, use_cache=False, logits_to_keep=1)
    return torch.stack(captured).float()


class LensData:
    """Token rows split into fitting, validation and held-out parts.

    Attributes:
        fit: rows to fit on.
        valid: rows that choose the tuned lens's best step per layer.
        heldout: rows the reliability is measured on (never fitted or chosen on).
        generated: whether the model wrote the text.
    """

    def __init__(
        self, rows: list[torch.Tensor], generated: bool, seed: int, heldout: int = 1024
    ) -> None:
        if len(rows) < 3:
            rows = [piece for row in rows for piece in row.split(max(2, len(row) // 3))]
        length = max(2, sum(len(r) for r in rows) // len(rows))
        held, valid, fit = self.split(len(rows), length, seed, heldout)
        self.heldout = [rows[i] for i in held]
        self.valid = [rows[i] for i in valid]
        self.fit = [rows[i] for i in fit]
        self.generated = generated

    @staticmethod
    def split(
        n_rows: int, length: int, seed: int, heldout: int = 1024
    ) -> tuple[list[int], list[int], list[int]]:
        """Row indices held out, for validation and for fitting (seeded; rows ``length`` long).

        Measuring costs a decoder pass per layer and token, so about ``heldout`` tokens
        (at most 15% of the rows) are held out; 5% of the rows validate.
        """
        order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed + 1)).tolist()
        n_held = max(1, min(round(n_rows * 0.15), round(heldout / (length - 1))))
        n_valid = max(1, round(n_rows * 0.05))
        fit = order[n_held + n_valid :] or order[:1]
        return order[:n_held], order[n_held : n_held + n_valid], fit

    @staticmethod
    def tokens(rows: Sequence[torch.Tensor]) -> int:
        """How many tokens the rows hold, their first positions left out (see ``positions``)."""
        return sum(max(0, len(row) - 1) for row in rows)


def batches(rows: Sequence[torch.Tensor], max_tokens: int = 4096) -> Iterator[torch.Tensor]:
    """Rows grouped into ``[B, P]`` batches of one length, about ``max_tokens`` each."""
    by_len: dict[int, list[torch.Tensor]] = {}
    for row in rows:
        by_len.setdefault(len(row), []).append(row)
    for length, group in sorted(by_len.items()):
        per = max(1, max_tokens // length)
        for start in range(0, len(group), per):
            yield torch.stack(group[start : start + per])


def states_over(
    model: Any, rows: Sequence[torch.Tensor], on_batch: Callable[[torch.Tensor], None]
) -> None:
    """Call ``on_batch`` with ``[L, N, d]`` states of each batch, first positions left out.

    The first position is an attention sink in these models: its state is tens of times
    larger than any other and would dominate a least-squares fit, so lenses are fitted and
    measured on positions 1 onward.
    """
    for ids in batches(rows):
        states = read_states(model, ids)[:, :, 1:]
        on_batch(states.reshape(states.shape[0], -1, states.shape[-1]))
