"""A checked lens request, and the facts about a model that every collection needs.

The public collection functions (:mod:`.collect`), the live widget's runs (:mod:`.session`)
and the widget itself (:mod:`.widget`) all start here: :func:`prepare_request` checks a
prompt, ``k``, ``layers`` and ``remote`` against a model once and returns a
:class:`LensRequest`, which is what the engine runs (``collect.run_lens``) and what a run
keeps for its follow-ups.

Words: a *lens row* is one requested layer (``LensRequest.layers[row]`` is its model layer
number); a *position* is one input token. The widget's grid draws lens rows as columns and
positions as rows, which is why the UI traits ``x_zoom`` (lens rows) and ``pinned_rows``
(positions) say what they index in their help text.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..base.validate import as_int, check_text
from .adapter import ModelAdapter
from .architectures import Accessor, get_model_config, hf_config, resolve_accessor
from .capture import AFTER_ATTENTION, BLOCK_OUTPUT, Edit
from .chat import chat_prompt_ids
from .edits import ModelShape, check_edits
from .options import LensOptions, Remote, check_k, check_layers, check_remote
from .readout import LOGIT_LENS, Readout
from .targets import Target, resolve_targets

__all__ = [
    "AFTER_ATTENTION",
    "BLOCK_OUTPUT",
    "LensRequest",
    "NonFiniteWarning",
    "Remote",
    "check_track_ids",
    "encode_prompt",
    "is_nnterp",
    "layer_count",
    "layer_numbers",
    "logit_softcap",
    "model_name",
    "model_tokenizer",
    "prepare_request",
    "remote_target",
    "token_strings",
    "vocab_size",
    "warn_non_finite",
]


class NonFiniteWarning(RuntimeWarning):
    """Some cells' model output was NaN or Inf; the result flags them instead of guessing."""


@dataclasses.dataclass(frozen=True)
class LensRequest:
    """A lens request whose every argument has been checked against its model.

    Attributes:
        model: the nnsight model (nnterp ``StandardizedTransformer`` or ``LanguageModel``).
        tokenizer: its tokenizer.
        architecture: the ``MODEL_CONFIGS`` accessors (layers, norm, lm_head, n_layers), or
            ``None`` for an nnterp model, which has standard names of its own.
        prompt: the text.
        input_ids: its token ids, one per position.
        layers: the model layer number of each lens row (non-negative, in the order asked).
        k: top-k width, ``1 <= k <= vocab_size``.
        vocab_size: width of the unembedding's output.
        remote: where it runs: ``False`` (here), ``True`` (NDIF) or ``"local"`` (nnsight's
            NDIF simulation).
        targets: named token sets whose exact summed probability and rank are computed at
            every cell (:mod:`.targets`); their ids are also tracked at every position.
        metrics: compute every cell's KL divergence from the model's final output.
        position_kinds: with a chat template, each position's kind (0 the user's text,
            1 a template token; :mod:`.generation`); None for a plain prompt.
        row_kinds: with sub-layer rows, each lens row's kind: ``AFTER_ATTENTION`` (the
            residual stream after the layer's attention, before its MLP) or
            ``BLOCK_OUTPUT`` (after the whole layer); None when every row is a block output.
        mid: the decoder-layer submodule whose input is the after-attention residual.
        readout: how a row's state becomes the decoder's input (:mod:`.readout`).
        edits: interventions applied inside the trace (:class:`~.capture.Edit`).
    """

    model: Any
    tokenizer: Any
    architecture: dict[str, Accessor] | None
    prompt: str
    input_ids: list[int]
    layers: list[int]
    k: int
    vocab_size: int
    remote: bool | str
    targets: tuple[Target, ...] = ()
    metrics: bool = False
    position_kinds: tuple[int, ...] | None = None
    row_kinds: tuple[int, ...] | None = None
    mid: str | None = None
    readout: Readout = LOGIT_LENS
    edits: tuple[Edit, ...] = ()

    @property
    def adapter(self) -> ModelAdapter:
        """The model's parts, for the captures."""
        return ModelAdapter(self.model, self.architecture, self.mid)

    @property
    def n_rows(self) -> int:
        """How many lens rows (requested layers)."""
        return len(self.layers)

    @property
    def n_positions(self) -> int:
        """How many input positions."""
        return len(self.input_ids)

    @property
    def final_layer(self) -> int:
        """The model's last layer number: the KL reference."""
        return layer_count(self.model, self.architecture) - 1

    def row_specs(self) -> list[tuple[int, int]]:
        """(layer number, row kind) of every lens row."""
        kinds = self.row_kinds or (BLOCK_OUTPUT,) * len(self.layers)
        return list(zip(self.layers, kinds, strict=True))

    def captures(self) -> list[tuple[int, int]]:
        """The distinct (layer, kind) states a trace reads, in the order the model makes them."""
        return sorted(set(self.row_specs()), key=lambda s: (s[0], -s[1]))

    def final_row(self) -> int | None:
        """The lens row that is the model's final output (the KL reference), if any.

        None under a readout that changes states (a tuned lens, a Patchscope): its final
        row is the lens's, not the model's, so KL reads the model's own output apart.
        """
        if not self.readout.is_identity:
            return None
        specs = self.row_specs()
        final = (self.final_layer, BLOCK_OUTPUT)
        return specs.index(final) if final in specs else None

    def target_sets(self) -> list[list[int]]:
        """Each target's ids, as plain lists (what a trace block may read)."""
        return [list(t.ids) for t in self.targets]

    def target_ids(self) -> list[int]:
        """Every id of every target, sorted, without repeats."""
        return sorted({i for t in self.targets for i in t.ids})


def prepare_request(
    prompt: Any,
    model: Any,
    options: LensOptions,
    model_type: str | None = None,
    nnterp_ok: bool = True,
) -> LensRequest:
    """Check a lens request against ``model`` (see ``collect_logit_lens`` for the rules).

    Args:
        prompt: the text.
        model: the nnsight model, with a tokenizer.
        options: the run's options (checked already where they are model-free).
        model_type: a ``MODEL_CONFIGS`` key or alias; ``None`` detects it.
        nnterp_ok: use nnterp's standard names when the model has them (the seed
            ``LanguageModel`` API passes False and always uses the registry).

    Returns:
        The checked request.

    Raises:
        TypeError: not an nnsight model, no tokenizer, or an argument of the wrong type.
        ValueError: empty or too long prompt, layer or k out of range, unknown architecture.
    """
    tokenizer = model_tokenizer(model)
    use_registry = not (nnterp_ok and model_type is None and is_nnterp(model))
    architecture = get_model_config(model, model_type) if use_registry else None
    size = vocab_size(model)
    ids, kinds = encode_prompt(prompt, tokenizer, model), None
    if options.chat:
        ids, kinds = chat_prompt_ids(tokenizer, prompt)
    numbers = layer_numbers(options.layer_list(), layer_count(model, architecture))
    mid, row_kinds = None, None
    if options.sublayers or any(edit.site[1] == AFTER_ATTENTION for edit in options.edits):
        mid = _mid_accessor(model, model_type)
    if options.sublayers:
        numbers = [n for n in numbers for _ in (AFTER_ATTENTION, BLOCK_OUTPUT)]
        row_kinds = (AFTER_ATTENTION, BLOCK_OUTPUT) * (len(numbers) // 2)
    if options.edits:
        check_edits(options.edits, model_shape(model, architecture, len(ids)))
    return LensRequest(
        model=model,
        tokenizer=tokenizer,
        architecture=architecture,
        prompt=prompt,
        input_ids=ids,
        layers=numbers,
        k=check_k(options.k, size, collection=True),
        vocab_size=size,
        remote=_resolve_remote(options.remote, model),
        targets=tuple(resolve_targets(options.targets, tokenizer, size)),
        metrics=options.metrics,
        position_kinds=None if kinds is None else tuple(kinds),
        row_kinds=row_kinds,
        mid=mid,
        readout=options.readout,
        edits=options.edits,
    )


# ---------------------------------------------------------------- checks


def model_shape(
    model: Any, architecture: dict[str, Accessor] | None, n_positions: int
) -> ModelShape:
    """The sizes an edit is checked against: layers, the prompt, widths and heads."""
    config = hf_config(model)
    d_model = int(config.hidden_size)
    n_heads = int(getattr(config, "num_attention_heads", 1))
    head_dim = int(getattr(config, "head_dim", None) or d_model // n_heads)
    return ModelShape(layer_count(model, architecture), n_positions, d_model, n_heads, head_dim)


def model_tokenizer(model: Any) -> Any:
    """The tokenizer of an nnsight model; TypeError for anything else or a missing one."""
    if not hasattr(model, "trace"):
        raise TypeError(
            f"expected an nnsight model, got {type(model).__name__}: wrap it with "
            "nnterp.StandardizedTransformer(hf_model, tokenizer=tok) or "
            "nnsight.LanguageModel(hf_model, tokenizer=tok)"
        )
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise TypeError(
            "the model has no tokenizer: pass one when wrapping it, e.g. "
            "StandardizedTransformer(hf_model, tokenizer=AutoTokenizer.from_pretrained(...))"
        )
    return tokenizer


def check_track_ids(track: Any, vocab_size: int) -> list[int]:
    """Token ids to track at every position: ints in ``[0, vocab_size)``, sorted, distinct.

    Raises:
        TypeError: ``track`` is not a list of integers.
        ValueError: an id is outside the vocabulary.
    """
    if track is None:
        return []
    if isinstance(track, (str, bytes)) or not hasattr(track, "__iter__"):
        raise TypeError(f"track must be a list of token ids, got {type(track).__name__}")
    out = []
    for token_id in track:
        index = as_int(token_id)
        if index is None:
            raise TypeError(
                f"track holds {token_id!r}: token ids must be ints (e.g. from "
                "model.tokenizer.encode(' Paris', add_special_tokens=False))"
            )
        if not 0 <= index < vocab_size:
            raise ValueError(
                f"track holds token id {index}, outside the vocabulary 0..{vocab_size - 1}"
            )
        out.append(index)
    return sorted(set(out))


def encode_prompt(prompt: Any, tokenizer: Any, model: Any) -> list[int]:
    """A prompt's token ids, checked: a non-empty str that fits the model's context."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    check_text(prompt, "prompt")  # a lone surrogate would fail deep in the tokenizer
    if not prompt.strip():
        raise ValueError("prompt is empty or whitespace only: give some text to analyse")
    ids = [int(i) for i in tokenizer.encode(prompt)]
    limit = _context_length(model)
    if limit is not None and len(ids) > limit:
        raise ValueError(
            f"prompt is {len(ids)} tokens, longer than the model's context of {limit}: shorten it"
        )
    return ids


def _context_length(model: Any) -> int | None:
    config = hf_config(model)
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _mid_accessor(model: Any, model_type: str | None) -> str:
    """The decoder-layer submodule whose input is the residual after attention."""
    config = get_model_config(model, model_type)
    mid = config.get("mid")
    if not isinstance(mid, str):
        name = model_type or getattr(hf_config(model), "model_type", "this model")
        raise ValueError(
            f"sub-layer rows are not available for {name}: its blocks run attention and the "
            "MLP in parallel (or its config names no 'mid' point), so there is no residual "
            "stream between them; use sublayers=False"
        )
    return mid


def layer_numbers(layers: Sequence[int] | None, n_layers: int) -> list[int]:
    """The non-negative model layer number of each requested lens row (None: all)."""
    if layers is None:
        return list(range(n_layers))
    out = []
    for index in check_layers(layers):
        if not -n_layers <= index < n_layers:
            raise ValueError(
                f"layer {index} is out of range: the model has {n_layers} layers, so "
                f"valid indices are 0..{n_layers - 1} (or -{n_layers}..-1 from the end)"
            )
        out.append(index % n_layers)
    return out


def _resolve_remote(remote: Remote, model: Any) -> bool | str:
    if remote is None:
        # A model whose weights were never loaded here (nnsight's meta model, e.g.
        # StandardizedTransformer(name, remote=True)) was made for NDIF.
        return not getattr(model, "dispatched", True)
    return check_remote(remote)


def remote_target(remote: Remote, model: Any) -> bool | str:
    """Where a trace on ``model`` runs (see :data:`Remote`).

    For code that is not given a :class:`LensRequest` (studies).
    """
    return _resolve_remote(remote, model)


# ---------------------------------------------------------------- model facts


def is_nnterp(model: Any) -> bool:
    """Whether ``model`` has nnterp's standard names (``layers_output``, ``ln_final``)."""
    return hasattr(model, "layers_output") and hasattr(model, "ln_final")


def vocab_size(model: Any) -> int:
    """Width of the model's unembedding output (its weight's rows, else the config's)."""
    inner = getattr(model, "_model", None)
    get_out = getattr(inner, "get_output_embeddings", None)
    head = get_out() if callable(get_out) else None
    weight = getattr(head, "weight", None)
    if weight is not None:
        return int(weight.shape[0])
    return int(hf_config(model).vocab_size)


def logit_softcap(model: Any) -> float | None:
    """The model's ``final_logit_softcapping`` (Gemma 2), or None."""
    cap = getattr(hf_config(model), "final_logit_softcapping", None)
    return float(cap) if cap else None


def model_name(model: Any) -> str:
    """The model's name as data and titles show it (its Hub id where known)."""
    config = hf_config(model)
    name = getattr(config, "_name_or_path", None) or getattr(model, "repo_id", None)
    return str(name or type(getattr(model, "_model", model)).__name__)


def layer_count(model: Any, architecture: dict[str, Accessor] | None) -> int:
    """How many decoder layers the model has (nnterp's count when ``architecture`` is None)."""
    if architecture is None:
        return int(model.num_layers)
    return int(resolve_accessor(model, architecture["n_layers"]))


#: Above these, a run is large: the widget asks first (browser) or warns (Python), and
#: ``collect_logit_lens`` warns.
LARGE_PROMPT_TOKENS = 2000
LARGE_PAYLOAD_MB = 50.0


def lens_megabytes(n_rows: int, n_positions: int, k: int) -> float:
    """Estimated size of a lens in MB: top-k ids and probabilities, entropy, trajectories."""
    return n_rows * n_positions * (8 * k + 12 + 4 * min(n_rows * k, 4 * k)) / 1e6


def large_run(
    n_rows: int,
    n_positions: int,
    k: int,
    max_tokens: int = LARGE_PROMPT_TOKENS,
    max_mb: float = LARGE_PAYLOAD_MB,
) -> float | None:
    """The estimated MB of a lens past either limit, or None when it is not large."""
    megabytes = lens_megabytes(n_rows, n_positions, k)
    return megabytes if n_positions > max_tokens or megabytes > max_mb else None


def token_strings(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """Decode single ids, all in one batch call."""
    return list(tokenizer.batch_decode([[int(i)] for i in ids]))


def warn_non_finite(invalid: np.ndarray, layers: Sequence[int], stacklevel: int = 3) -> None:
    """Say which cells had non-finite model output (their values are NaN in the result).

    Args:
        invalid: ``[L, P]`` bool, True where a cell's model output was not finite.
        layers: the model layer number of each lens row.
        stacklevel: as for ``warnings.warn``; the default 3 names the line that called
            the function that calls this one (the user's line, for a public function).
    """
    invalid = np.asarray(invalid)
    if not invalid.any():
        return
    rows, positions = np.nonzero(invalid)
    bad_layers = sorted({int(layers[r]) for r in rows})
    bad_positions = sorted({int(p) for p in positions})
    warnings.warn(
        f"the model's output is not finite (NaN/Inf) at {int(invalid.sum())} cells (layers "
        f"{_short(bad_layers)}, positions {_short(bad_positions)}): their probabilities and "
        "entropy are NaN and result['invalid'] marks them. Common causes: float16 overflow "
        "(load the model in float32 or bfloat16) or an intervention that wrote NaN.",
        NonFiniteWarning,
        stacklevel=stacklevel,
    )


def _short(values: Sequence[int], limit: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")
