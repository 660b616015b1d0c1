"""Studies: one logit-lens question asked of many prompts, averaged per layer.

Papers that use the logit lens rarely look at one grid. They ask about a token or a concept
(the answer, its English counterpart) at the last position of each prompt in a data set,
and plot the mean per layer with a confidence band. :func:`collect_study` does that:

* prompts come as a list, a text file (one per line), or any iterable of dicts with a
  ``"prompt"`` and its own ``"targets"`` (a Hugging Face ``datasets.Dataset`` iterates so);
* they run in padded batches (left padding, position ids from the attention mask, so each
  prompt sees exactly what it would alone), and the reduction runs inside the trace: per
  prompt and layer only each target's probability and rank, the KL divergence from the
  final output and the entropy leave it, so NDIF runs send kilobytes per batch;
* a :class:`Study` keeps only those reductions (``Q × L`` floats per prompt), can be
  stopped (a Stop button, :meth:`Study.stop`, or a kernel interrupt) and resumed, and
  gives a tidy table (:meth:`Study.table`), per-layer means with 95% confidence intervals
  (:meth:`Study.summary`), CSV/Parquet files and a study widget (:meth:`Study.show`).

The prompts' parsing, the batch trace and the statistics are in
:mod:`logitlenskit.analyses.study_batch`.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..analyses.lens_choice import choose_lens
from ..analyses.study_batch import Quantity, StudyItem, read_items, t_quantile, trace_batch
from ..core.architectures import get_model_config
from ..core.readout import LOGIT_LENS, Readout
from ..core.request import (
    NonFiniteWarning,
    Remote,
    is_nnterp,
    layer_count,
    layer_numbers,
    remote_target,
)
from ..core.runs import model_lock
from ..core.targets import Target

__all__ = ["Quantity", "Study", "collect_study", "t_quantile"]

log = logging.getLogger(__name__)


class Study:
    """Many prompts, one question: per-prompt, per-layer reductions and their summaries.

    Made by :func:`collect_study` (which also runs it). Attributes: ``prompts`` (the texts),
    ``layers`` (model layer numbers), ``quantities`` (what each prompt gets per layer),
    ``values`` (float32 ``[Q, N, L]``, NaN where not computed yet), ``n_done``.
    """

    def __init__(
        self,
        items: list[StudyItem],
        model: Any,
        layers: list[int],
        names: list[str],
        contrasts: list[tuple[str, str]],
        batch_size: int,
        remote: bool | str,
        readout: Readout = LOGIT_LENS,
    ) -> None:
        self._items = items
        self.readout = readout
        self._model = model
        self.layers = layers
        self._names = names
        self.quantities = _quantities(names, contrasts)
        self._contrasts = contrasts
        self.batch_size = batch_size
        self.remote = remote
        self.values = np.full((len(self.quantities), len(items), len(layers)), np.nan, np.float32)
        self.n_done = 0
        self.error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._widget: Any = None
        self._on_batch: list[Callable[[Study], None]] = []

    # ---------------------------------------------------------------- reading

    @property
    def prompts(self) -> list[str]:
        """The prompts, in order."""
        return [item.prompt for item in self._items]

    @property
    def done(self) -> bool:
        """Every prompt has been run."""
        return self.n_done >= len(self._items)

    @property
    def running(self) -> bool:
        """A background run is in progress."""
        return self._thread is not None and self._thread.is_alive()

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        names = ", ".join(q.name for q in self.quantities)
        return f"<Study: {self.n_done}/{len(self)} prompts × {len(self.layers)} layers; {names}>"

    def table(self) -> Any:
        """The tidy table: one row per prompt × layer × quantity (computed prompts only).

        Returns:
            A pandas DataFrame with ``prompt_index``, ``prompt``, every extra field of the
            input dicts (e.g. ``concept``), ``layer``, ``quantity``, ``kind`` and ``value``.
        """
        import pandas as pd

        n, n_l, n_q = self.n_done, len(self.layers), len(self.quantities)
        index = np.arange(n)
        frame = pd.DataFrame(
            {
                "prompt_index": np.tile(np.repeat(index, n_l), n_q),
                "layer": np.tile(np.asarray(self.layers), n * n_q),
                "quantity": np.repeat([q.name for q in self.quantities], n * n_l),
                "kind": np.repeat([q.kind for q in self.quantities], n * n_l),
                "value": self.values[:, :n].reshape(-1).astype(np.float64),
            }
        )
        meta = pd.DataFrame([{"prompt": it.prompt, **it.fields} for it in self._items[:n]])
        meta.insert(0, "prompt_index", index)
        columns = ["prompt_index", *meta.columns[1:], "layer", "quantity", "kind", "value"]
        return frame.merge(meta, on="prompt_index", how="left")[columns]

    def summary_arrays(self) -> np.ndarray:
        """Per quantity and layer: mean, 95% CI low, CI high, n. float64 ``[Q, 4, L]``."""
        done = self.values[:, : self.n_done].astype(np.float64)
        n = np.sum(np.isfinite(done), axis=1)
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # an empty or 1-prompt layer: NaN
            mean = np.nanmean(np.where(np.isfinite(done), done, np.nan), axis=1)
            sd = np.nanstd(np.where(np.isfinite(done), done, np.nan), axis=1, ddof=1)
            half = t_quantile(n - 1) * sd / np.sqrt(n)
        empty = n == 0
        mean[empty] = np.nan
        return np.stack([mean, mean - half, mean + half, n.astype(np.float64)], axis=1)

    def summary(self) -> Any:
        """Per-layer mean of each quantity with its 95% confidence interval.

        The interval is mean ± t(0.975, n−1)·sd/√n over the prompts computed so far (NaN
        with fewer than two). Returns a pandas DataFrame with ``quantity``, ``kind``,
        ``layer``, ``mean``, ``ci_low``, ``ci_high`` and ``n``.
        """
        import pandas as pd

        s = self.summary_arrays()
        rows = [
            {
                "quantity": q.name,
                "kind": q.kind,
                "layer": layer,
                "mean": s[i, 0, j],
                "ci_low": s[i, 1, j],
                "ci_high": s[i, 2, j],
                "n": int(s[i, 3, j]),
            }
            for i, q in enumerate(self.quantities)
            for j, layer in enumerate(self.layers)
        ]
        return pd.DataFrame(rows)

    def plot(self, quantities: Sequence[str] | None = None, **kwargs: Any) -> Any:
        """Per-layer means with 95% bands and the entropy strip, as a matplotlib Figure.

        See :func:`~logitlenskit.study_plot.study_figure` (``quantities`` default to every
        probability; ``title``, ``width``).
        """
        from ..analyses.study_plot import study_figure

        return study_figure(self, quantities, **kwargs)

    def to_csv(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write :meth:`table` as CSV; returns the path.

        Written atomically (a full disk leaves the old file whole), never through a link,
        and an existing file is replaced only with ``overwrite=True``. Text fields that a
        spreadsheet would run as a formula (starting with ``= + - @``, tab or CR) get a
        leading ``'`` (see :mod:`logitlenskit.study_files`).
        """
        from ..analyses.study_files import save_csv

        return save_csv(self.table(), path, overwrite=overwrite)

    def to_parquet(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write :meth:`table` as Parquet (needs pyarrow), atomically like :meth:`to_csv`."""
        from ..analyses.study_files import save_parquet

        return save_parquet(self.table(), path, overwrite=overwrite)

    # ---------------------------------------------------------------- running

    def run(self, background: bool = False, progress: bool = True) -> Study:
        """Run the prompts not yet computed (the first call, or a resume after a stop).

        Args:
            background: run in a thread and return at once (the widget's Stop works then;
                :meth:`wait` blocks until it ends).
            progress: show a progress bar (tqdm: a widget in notebooks, text elsewhere).

        Returns:
            The study itself. A kernel interrupt (KeyboardInterrupt) during a foreground run
            stops after the current batch's results are kept; :meth:`run` again resumes.
        """
        if self.running:
            raise RuntimeError("this study is already running: study.stop() or study.wait()")
        self._stop.clear()
        self.error = ""
        if background:
            self._thread = threading.Thread(target=self._loop, args=(progress,), daemon=True)
            self._thread.start()
        else:
            try:
                self._loop(progress)
            except KeyboardInterrupt:
                log.info("study stopped after %d prompts; study.run() resumes", self.n_done)
        return self

    resume = run

    def on_batch(self, callback: Callable[[Study], Any]) -> None:
        """Call ``callback(study)`` after every batch (in the running thread), e.g. to save."""
        self._on_batch.append(callback)

    def stop(self) -> None:
        """Stop after the current batch; the computed prompts stay. :meth:`run` resumes."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background run; True if it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _loop(self, progress: bool) -> None:
        bar = _progress_bar(len(self), self.n_done) if progress else None
        started = time.perf_counter()
        self._notify(busy=True, status="starting")
        try:
            while not self.done and not self._stop.is_set():
                a = self.n_done
                b = min(a + self.batch_size, len(self))
                with model_lock(self._model):
                    self._run_batch(a, b)
                self.n_done = b
                if bar is not None:
                    bar.update(b - a)
                elapsed = time.perf_counter() - started
                # No count here: the widget's header shows n_done / N next to the status.
                self._notify(busy=True, status=f"running · {elapsed:.1f} s")
                for callback in self._on_batch:
                    callback(self)
        except Exception as exc:
            log.error("study batch failed", exc_info=exc)
            self.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            raise
        finally:
            if bar is not None:
                bar.close()
            self._notify(busy=False, status=self._idle_status())

    def _idle_status(self) -> str:
        return "done" if self.done else "stopped" if self.n_done else ""

    def _notify(self, busy: bool, status: str) -> None:
        if self._widget is not None:
            self._widget.busy = busy
            self._widget.update(
                values=self.values,
                summary=self.summary_arrays()[:, :3].astype(np.float32),
                n_done=self.n_done,
                status=status,
            )
            self._widget.error = self.error

    def _run_batch(self, a: int, b: int) -> None:
        items = self._items[a:b]
        out = trace_batch(
            self._model,
            [item.prompt for item in items],
            self.layers,
            [[list(item.targets.get(name, ())) for item in items] for name in self._names],
            self.remote,
            self.readout,
        )
        q = 0
        missing = np.array([[name not in item.targets for item in items] for name in self._names])
        lp = np.where(missing[:, None, :], np.nan, out["target_logprobs"]) if self._names else None
        for t, _ in enumerate(self._names):
            self.values[q, a:b] = np.exp(lp[t]).T
            ranks = out["target_ranks"][t].astype(np.float32)
            self.values[q + 1, a:b] = np.where(missing[t][None, :], np.nan, ranks).T
            q += 2
        for first, second in self._contrasts:
            i, j = self._names.index(first), self._names.index(second)
            self.values[q, a:b] = (lp[i] - lp[j]).T
            q += 1
        self.values[q, a:b] = out["kl"].T
        self.values[q + 1, a:b] = out["entropy"].T
        self._flag_non_finite(a, out["invalid"].T)

    def _flag_non_finite(self, a: int, invalid: np.ndarray) -> None:
        """NaN (not rank 0) where a prompt's output was not finite, and a warning naming it."""
        if not invalid.any():
            return
        self.values[:, a : a + len(invalid)][:, invalid] = np.nan
        bad = [a + int(i) for i in np.flatnonzero(invalid.any(axis=1))]
        named = ", ".join(f"prompt {i} ({self._items[i].prompt!r})" for i in bad[:5])
        warnings.warn(
            f"the model's output is not finite (NaN/Inf) for {len(bad)} prompt(s): {named}"
            f"{', ...' if len(bad) > 5 else ''}; their values there are NaN and summaries "
            "leave them out. Common causes: float16 overflow or an intervention that wrote NaN.",
            NonFiniteWarning,
            stacklevel=2,
        )

    # ---------------------------------------------------------------- view

    def show(self) -> Any:
        """The study widget, with a prompt's live lens opening below on a click.

        Returns:
            An ``ipywidgets.VBox``: the study view (per-layer means with 95% bands, an
            entropy strip, the per-prompt heatmap; Stop and Resume) and, once a prompt is
            clicked, a :class:`~logitlenskit.LogitLensWidget` of that prompt with its
            targets pinned.
        """
        import ipywidgets

        from .study_widget import StudyWidget
        from .widget import LogitLensWidget

        view = StudyWidget(
            layers=self.layers,
            prompts=self.prompts,
            quantities=[q.as_dict() for q in self.quantities],
        )
        self._widget = view
        box = ipywidgets.VBox([view])
        view.on_stop(self.stop)
        view.on_resume(lambda: self.run(background=True, progress=False))

        def open_prompt(change: dict[str, Any]) -> None:
            index = change["new"]
            if index is None or not 0 <= index < len(self):
                return
            item = self._items[index]
            targets = [Target(name, ids) for name, ids in item.targets.items()]
            lens = LogitLensWidget(model=self._model, prompt=item.prompt, targets=targets)
            for old in box.children[1:]:
                old.close()
            box.children = (view, lens)

        view.observe(open_prompt, "selected_prompt")
        self._notify(busy=self.running, status="running" if self.running else self._idle_status())
        return box


def _progress_bar(total: int, done: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="prompt", desc="study")


# ---------------------------------------------------------------- building a study


def collect_study(
    prompts: Iterable[Any] | str | Path,
    model: Any,
    targets: Any = None,
    *,
    contrasts: Sequence[tuple[str, str]] = (),
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
    remote: Remote = None,
    case_variants: bool = True,
    run: bool = True,
    progress: bool = True,
    lens: Any = None,
) -> Study:
    """Ask one logit-lens question of many prompts (at each prompt's last position).

    Args:
        prompts: a list of strings; a ``pathlib.Path`` to a text file with one prompt per
            line (blank lines skipped); or an iterable of dicts with a ``"prompt"``, its
            own ``"targets"`` (``{name: what}``, joined with ``targets``) and any other
            fields (kept as table columns), e.g. :func:`~logitlenskit.datasets.
            translation_prompts` or a ``datasets.Dataset``.
        model: an nnterp ``StandardizedTransformer`` or an nnsight ``LanguageModel`` of a
            registered architecture.
        targets: ``{name: what}`` measured for every prompt (see
            :mod:`logitlenskit.targets`: a word counts every first token of its
            spellings).
        contrasts: ``(target, foil)`` name pairs: adds ``log p(target) − log p(foil)``.
        layers: layer numbers (default all).
        batch_size: prompts per padded forward pass (and per NDIF request).
        remote: ``True`` NDIF, ``'local'`` nnsight's NDIF simulation, ``False``/``None``
            here.
        case_variants: words also count their lower-case and capitalized spellings.
        run: run it now (in the foreground); False returns it ready to :meth:`Study.run`.
        progress: show a progress bar while running.
        lens: the lens every prompt is read with, as in ``collect_logit_lens`` (the logit,
            tuned or linear lens, a folder or a readout; a Patchscope, which needs a pass
            per cell, is refused here).

    Returns:
        The :class:`Study`. Per prompt and layer it holds, for each target ``p(name)``
        and ``rank(name)``, each contrast's log-ratio, ``KL to final`` and ``entropy``.

    Raises:
        TypeError, ValueError: bad prompts, targets, contrasts or sizes, before any run.
    """
    items = read_items(prompts, model, targets, case_variants)
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    names = list(dict.fromkeys(name for item in items for name in item.targets))
    contrasts = [tuple(pair) for pair in contrasts]
    for pair in contrasts:
        if len(pair) != 2 or not set(pair) <= set(names):
            raise ValueError(
                f"contrast {pair!r} must be (target, foil), two of the target names {names}"
            )
    arch = None if is_nnterp(model) else get_model_config(model)
    n_layers = layer_count(model, arch)
    rows = layer_numbers(layers, n_layers)
    where = remote_target(remote, model)
    readout = choose_lens(lens, model).readout
    if hasattr(readout, "normed_rows"):
        raise ValueError(
            "a Patchscope runs a forward pass per cell, and a study reads many prompts per "
            "pass: use lens='logit', 'tuned' or 'linear' here, and the Patchscope in "
            "collect_logit_lens or the widget"
        )
    study = Study(items, model, rows, names, contrasts, batch_size, where, readout)
    return study.run(progress=progress) if run else study


def _quantities(names: list[str], contrasts: list[tuple[str, str]]) -> list[Quantity]:
    """Per target its probability and rank, each contrast's log-ratio, then KL and entropy."""
    quantities = [
        q
        for name in names
        for q in (
            Quantity(f"p({name})", "probability", f"p({name})"),
            Quantity(f"rank({name})", "rank", f"rank of {name}"),
        )
    ]
    quantities += [
        Quantity(f"log p({a}) − log p({b})", "logprob_diff", f"log p({a}) − log p({b})")
        for a, b in contrasts
    ]
    quantities += [
        Quantity("KL to final", "kl", "KL(final ‖ layer), nats"),
        Quantity("entropy", "entropy", "entropy, nats"),
    ]
    return quantities
