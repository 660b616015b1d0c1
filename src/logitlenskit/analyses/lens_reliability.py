"""How far to trust a lens at each layer: KL from the model's output and top-1 agreement.

For every layer ``l`` and every held-out token, the lens's distribution
``softmax(head(norm(readout(h_l))))`` is compared with the model's own output
``softmax(head(norm(h_last)))``: the mean ``KL(final ‖ lens)`` in nats (the tuned-lens
paper's measure), and how often the lens's top token is the model's. The first position
of each row is left out (an attention sink; see :func:`.lens_text.states_over`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..core.locks import model_lock
from ..core.readout import LOGIT_LENS, Readout
from .lens_text import adapter_for, encode_text, states_over

__all__ = ["Decoder", "Meter", "lens_reliability", "measure"]

#: Logit elements per chunk of the decoder's output (bounds memory: 64M floats = 256 MB).
CHUNK_ELEMENTS = 2**26


class Decoder:
    """The model's final norm, unembedding and softcap, as plain torch (no trace)."""

    def __init__(self, model: Any) -> None:
        adapter = adapter_for(model)
        self.norm = adapter.norm_module()
        self.head = adapter.head_module()
        self.softcap = adapter.softcap()
        self.vocab = int(self.head.weight.shape[0])

    def log_probs(self, states: torch.Tensor) -> torch.Tensor:
        """``log_softmax`` of the decoded states ``[..., d]`` → ``[..., V]`` (float32)."""
        logits = self.head(self.norm(states)).float()
        if self.softcap:
            logits = self.softcap * torch.tanh(logits / self.softcap)
        return torch.log_softmax(logits, dim=-1)

    def frozen(self) -> Any:
        """A context in which the norm's and head's weights take no gradient."""
        return _Frozen([*self.norm.parameters(), *self.head.parameters()])


class _Frozen:
    def __init__(self, params: list[torch.nn.Parameter]) -> None:
        self.params = params
        self.was: list[bool] = []

    def __enter__(self) -> None:
        self.was = [p.requires_grad for p in self.params]
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc: object) -> None:
        for p, was in zip(self.params, self.was, strict=True):
            p.requires_grad_(was)


class Meter:
    """Each readout's per-layer KL sum and top-1 agreement count over batches of states.

    Args:
        model: the model (its final norm and unembedding decode every row).
        readouts: name → readout (each applied to block outputs, kind 0).
    """

    def __init__(self, model: Any, readouts: dict[str, Readout]) -> None:
        self.decoder = Decoder(model)
        self.readouts = readouts
        self.sums: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.count = 0

    def add(self, states: torch.Tensor) -> None:
        """Measure on ``states [L, N, d]``: every layer's block output over N tokens."""
        chunk = max(1, CHUNK_ELEMENTS // self.decoder.vocab)
        with torch.no_grad():
            for start in range(0, states.shape[1], chunk):
                self._add_chunk(states[:, start : start + chunk])
        self.count += states.shape[1]

    def _add_chunk(self, part: torch.Tensor) -> None:
        n_layers = part.shape[0]
        target = self.decoder.log_probs(part[-1])
        probs = target.exp()
        # KL(p ‖ q) = Σ p log p − Σ p log q: the first sum once per token, not per layer.
        neg_entropy = (probs * target).sum(-1)
        top = target.argmax(-1)
        for name, readout in self.readouts.items():
            kl_sum, agree_sum = self.sums.setdefault(
                name, (torch.zeros(n_layers, dtype=torch.float64), torch.zeros(n_layers))
            )
            mapped = readout.prepare(list(part), [(layer, 0) for layer in range(n_layers)])
            for layer in range(n_layers):
                if torch.equal(mapped[layer], part[-1]):  # the model's own output
                    agree_sum[layer] += part.shape[1]
                    continue
                lens = self.decoder.log_probs(mapped[layer])
                kl = neg_entropy - torch.einsum("nv,nv->n", probs, lens)
                kl_sum[layer] += kl.double().sum()
                agree_sum[layer] += (lens.argmax(-1) == top).sum()

    def result(self) -> dict[str, dict[str, list[float]]]:
        """Per readout name: ``{"kl": [L floats], "top1": [L floats], "tokens": [n]}``."""
        n = max(1, self.count)
        return {
            name: {"kl": (kl / n).tolist(), "top1": (agree / n).tolist(), "tokens": [self.count]}
            for name, (kl, agree) in self.sums.items()
        }


def measure(
    model: Any,
    readouts: dict[str, Readout],
    rows: Sequence[torch.Tensor],
    control: Any = None,
) -> dict[str, dict[str, list[float]]]:
    """Per-layer mean KL and top-1 agreement of each readout over ``rows``.

    Args:
        model: the model.
        readouts: name → readout (each applied to block outputs, kind 0).
        rows: token-id rows (1-D tensors).
        control: ``check()`` between batches, or None.

    Returns:
        name → ``{"kl": [L floats], "top1": [L floats], "tokens": [n]}``.
    """
    meter = Meter(model, readouts)

    def on_batch(states: torch.Tensor) -> None:
        if control is not None:
            control.check()
        meter.add(states)

    with model_lock(model):
        states_over(model, rows, on_batch)
    return meter.result()


def lens_reliability(
    model: Any,
    readout: Readout | None = None,
    text: Sequence[str] | str | None = None,
    *,
    rows: Sequence[torch.Tensor] | None = None,
    seq_len: int = 128,
    tokens: int = 1024,
    seed: int = 1,
    control: Any = None,
    sample: Callable[..., torch.Tensor] | None = None,
) -> dict[str, list[float]]:
    """A readout's per-layer reliability on text: mean ``KL(final ‖ lens)`` and top-1 agreement.

    Use it for the plain logit lens (``readout=None``) as for a fitted one, so the four
    lenses can be compared on the same text.

    Args:
        model: the model.
        readout: the lens (None: the logit lens).
        text: strings to measure on; None: ``tokens`` tokens the model samples itself
            (seed ``seed``, so the same text every call).
        rows: token-id rows instead of ``text``.
        seq_len: row length for ``text`` and sampled text.
        tokens: how many tokens to sample when ``text`` is None.
        seed: the sampling seed.
        control: ``check()``/``progress()``, or None.
        sample: the sampler (``lens_text.sample_text``); a test may pass its own.

    Returns:
        ``{"kl": [...], "top1": [...], "tokens": [n]}``, one value per decoder layer.
    """
    if rows is None:
        if text is None:
            from .lens_text import sample_text

            rows = list((sample or sample_text)(model, tokens, seq_len=seq_len, seed=seed))
        else:
            rows = encode_text(model, [text] if isinstance(text, str) else list(text), seq_len)
    return measure(model, {"lens": readout or LOGIT_LENS}, rows, control)["lens"]
