"""Fitted lenses on disk: the tuned-lens package's folder format, keyed by the model's weights.

A lens folder holds

* ``config.json`` and ``params.pt``: the tuned-lens package's format (``d_model``,
  ``num_hidden_layers``, ``bias``; translators ``"i.weight"``/``"i.bias"`` for
  ``i = 0..L-1``, where translator ``i`` reads the residual *entering* layer ``i``, so
  translator ``l + 1`` is decoder layer ``l``'s block output and translator 0 the
  embeddings). The tuned-lens package loads our folders, and we load its: a linear
  shortcut is stored in the same residual form (``A - I``), which is the same map.
* ``logitlenskit.json`` (ours only): the lens's kind, the weights hash of the model it was
  fitted on, its reliability and how it was fitted. A folder with it is refused on other
  weights; a tuned-lens package folder has no such hash, so only its width and depth can
  be checked.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..base.files import write_files_atomic
from ..core.lenses import LinearShortcut, TunedLens
from ..core.readout import LOGIT_LENS
from ..core.request import model_name
from .lens_text import adapter_for, weights_hash

__all__ = ["FittedLens", "LensMismatchError", "load_lens"]

FORMAT = "logitlenskit-lens"
KINDS = {"tuned": TunedLens, "linear": LinearShortcut}


class LensMismatchError(ValueError):
    """A lens was fitted for other weights (or another shape of model) than this one."""


class FittedLens:
    """A fitted (or loaded) lens, the model it belongs to and how reliable it is.

    Attributes:
        readout: the :class:`~logitlenskit.core.lenses.TunedLens` or
            :class:`~logitlenskit.core.lenses.LinearShortcut` to pass as a run's readout.
        kind: ``"tuned"`` or ``"linear"``.
        weights_hash: :func:`~.lens_text.weights_hash` of the model it was fitted on
            (None for a tuned-lens package folder, which records none).
        model_name: that model's name.
        reliability: lens name → ``{"kl": [...], "top1": [...], "tokens": [n]}`` per
            decoder layer on held-out text, for this lens and the ones it is compared with
            (the logit lens; for a tuned lens, the linear shortcut it started from).
        info: how it was fitted (tokens, seconds, steps, ridge, layers kept at the
            least-squares map, whether the text was the model's own).
    """

    def __init__(
        self,
        readout: TunedLens | LinearShortcut,
        kind: str,
        *,
        weights_hash: str | None,
        model_name: str,
        reliability: dict[str, dict[str, list[float]]] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.readout = readout
        self.kind = kind
        self.weights_hash = weights_hash
        self.model_name = model_name
        self.reliability = reliability or {}
        self.info = info or {}

    @property
    def name(self) -> str:
        """The lens's name as data and titles show it."""
        return self.readout.name

    def check_model(self, model: Any) -> None:
        """Refuse ``model`` unless it has the weights this lens was fitted on.

        Raises:
            LensMismatchError: other weights, width or depth; the message says which.
        """
        check_shape(self.readout, model, "the lens")
        if self.weights_hash is None:
            return
        have = weights_hash(model)
        if have != self.weights_hash:
            raise LensMismatchError(
                f"this {self.name} was fitted on other weights ({self.model_name}, weights "
                f"hash {self.weights_hash}); this model's weights hash is {have} "
                f"({model_name(model)}). A lens is never applied to other weights: fit one "
                "for this model with fit_lens(model) or lens_for(model, kind)"
            )

    def save(self, folder: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Write the lens into ``folder`` (created if missing), all files or none.

        Returns:
            The folder.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        lens = self.readout
        n, d = lens.n_layers, lens.d_model
        config = {
            "base_model_name_or_path": self.model_name,
            "d_model": d,
            "num_hidden_layers": n,
            "bias": True,
            "lens_type": "linear_tuned_lens",
        }
        residual = lens.weight.clone()
        if not lens.residual:
            residual -= torch.eye(d)
        params = {"0.weight": torch.zeros(d, d), "0.bias": torch.zeros(d)}
        for layer in range(n - 1):
            params[f"{layer + 1}.weight"] = residual[layer].clone()
            params[f"{layer + 1}.bias"] = lens.bias[layer].clone()
        buffer = io.BytesIO()
        torch.save(params, buffer)
        ours = {
            "format": FORMAT,
            "version": 1,
            "kind": self.kind,
            "weights_hash": self.weights_hash,
            "model": self.model_name,
            "reliability": self.reliability,
            "info": self.info,
        }
        write_files_atomic(
            [
                (folder / "config.json", json.dumps(config, indent=1), "config.json"),
                (folder / "params.pt", buffer.getvalue(), "params.pt"),
                (folder / "logitlenskit.json", json.dumps(ours, indent=1), "logitlenskit.json"),
            ],
            overwrite=overwrite,
        )
        return folder

    def __repr__(self) -> str:
        return (
            f"FittedLens({self.kind!r}, model={self.model_name!r}, layers={self.readout.n_layers},"
            f" d={self.readout.d_model})"
        )


def model_shape(model: Any) -> tuple[int, int]:
    """The model's decoder-layer count and residual width."""
    adapter = adapter_for(model)
    return adapter.n_layers, int(adapter.head_module().weight.shape[1])


def check_shape(readout: Any, model: Any, what: str) -> None:
    """Refuse a lens whose depth or width is not the model's, naming ``what``."""
    n_layers, d_model = model_shape(model)
    if readout.d_model != d_model:
        raise LensMismatchError(
            f"{what} reads states of width {readout.d_model}, this model's are {d_model} "
            f"wide ({model_name(model)}): it was made for another model"
        )
    if readout.n_layers != n_layers:
        raise LensMismatchError(
            f"{what} has maps for {readout.n_layers} layers, this model has {n_layers} "
            f"({model_name(model)}): it was made for another model"
        )


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a lens folder needs config.json and params.pt")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is corrupt: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{path} is corrupt: a JSON object was expected, got {type(data).__name__}"
        )
    return data


def _int_field(config: dict[str, Any], field: str, path: Path) -> int:
    value = config.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{path}: field {field!r} must be a positive whole number, got {value!r}")
    return value


def _read_params(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a lens folder needs config.json and params.pt")
    try:
        # weights_only: a lens file is data; never run code from it.
        params = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        raise ValueError(f"{path} is corrupt: not a readable torch file ({exc})") from None
    if not isinstance(params, dict):
        raise ValueError(f"{path} is corrupt: a dict of tensors was expected")
    return params


def _tensor(params: dict[str, Any], key: str, shape: tuple[int, ...], path: Path) -> torch.Tensor:
    value = params.get(key)
    if value is None:
        raise ValueError(f"{path}: field {key!r} is missing")
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise ValueError(f"{path}: field {key!r} is not a float tensor")
    if tuple(value.shape) != shape:
        raise LensMismatchError(
            f"{path}: field {key!r} has shape {tuple(value.shape)}, {list(shape)} expected "
            "(a lens of another width than config.json's d_model)"
        )
    if not torch.isfinite(value).all():
        raise ValueError(f"{path}: field {key!r} holds NaN or Inf")
    return value.float()


def read_folder(folder: Path, kind: str) -> TunedLens | LinearShortcut:
    """A lens folder's maps, every field checked (``kind`` decides the map's form)."""
    config_path, params_path = folder / "config.json", folder / "params.pt"
    config = _read_json(config_path)
    d = _int_field(config, "d_model", config_path)
    n = _int_field(config, "num_hidden_layers", config_path)
    bias = config.get("bias", True)
    if not isinstance(bias, bool):
        raise ValueError(f"{config_path}: field 'bias' must be true or false, got {bias!r}")
    params = _read_params(params_path)
    weight, biases = torch.zeros(n, d, d), torch.zeros(n, d)
    # Translator l + 1 reads decoder layer l's output; the last layer needs none.
    for layer in range(n - 1):
        weight[layer] = _tensor(params, f"{layer + 1}.weight", (d, d), params_path)
        if bias:
            biases[layer] = _tensor(params, f"{layer + 1}.bias", (d,), params_path)
    if kind == "linear":
        weight += torch.eye(d)
    return KINDS[kind](weight, biases, source=str(folder))


def load_lens(
    folder: str | os.PathLike[str],
    model: Any,
    *,
    reliability: bool = True,
    heldout_tokens: int = 1024,
) -> FittedLens:
    """Load a lens folder (ours or the tuned-lens package's) for ``model``.

    Args:
        folder: the folder with ``config.json`` and ``params.pt``.
        model: the model it must belong to.
        reliability: measure the reliability on the model's own held-out text when the
            folder holds none (a tuned-lens package folder).
        heldout_tokens: tokens to measure it on.

    Returns:
        The lens, checked against the model.

    Raises:
        FileNotFoundError: the folder or one of its files is missing.
        ValueError: a corrupt file or a bad field (the message names the file and field).
        LensMismatchError: another width or depth, or (our folders) other weights.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"lens folder {folder} does not exist")
    ours_path = folder / "logitlenskit.json"
    ours = _read_json(ours_path) if ours_path.exists() else None
    kind = "tuned"
    if ours is not None:
        if ours.get("format") != FORMAT:
            raise ValueError(
                f"{ours_path}: field 'format' is {ours.get('format')!r}, not {FORMAT!r}"
            )
        kind = ours.get("kind")
        if kind not in KINDS:
            raise ValueError(
                f"{ours_path}: field 'kind' is {kind!r}; expected one of {list(KINDS)}"
            )
    readout = read_folder(folder, kind)
    fitted = FittedLens(
        readout,
        kind,
        weights_hash=None if ours is None else ours.get("weights_hash"),
        model_name=str(
            (ours or {}).get("model")
            or _read_json(folder / "config.json").get("base_model_name_or_path", "unknown")
        ),
        reliability=None if ours is None else ours.get("reliability"),
        info=None if ours is None else ours.get("info"),
    )
    fitted.check_model(model)
    if reliability and not fitted.reliability:
        from .lens_reliability import measure
        from .lens_text import sample_text

        # Both lenses on one sample of the model's own text (seeded, as lens_reliability's).
        rows = list(sample_text(model, heldout_tokens, seed=1))
        fitted.reliability = measure(model, {"logit lens": LOGIT_LENS, readout.name: readout}, rows)
    return fitted
