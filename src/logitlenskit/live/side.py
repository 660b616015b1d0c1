"""One live side of a widget: a model, its runner and the run it shows.

A :class:`~logitlenskit.LogitLensWidget` with a model has side A (its own prompt); a live
diff (``LogitLensWidget.compare``) has side B too, on the same model or one that shares its
tokenizer. Both are a :class:`LiveSide`: it runs a prompt with the widget's
:class:`~logitlenskit.core.options.LensOptions`, tracks pinned tokens, writes tokens
(generation), and stops or waits for its runs. What a run looks like in the widget (the
``data`` or ``compare_data`` trait, what Stop goes back to) is the widget's ``show``
callback's business, not the side's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from ..analyses import generation
from ..core import session
from ..core.options import LensOptions
from ..core.prefix import shared_length
from ..core.request import check_track_ids
from ..core.runs import Runner
from ..core.session import Cancelled, Control, LensRun, run_options

__all__ = ["STREAM_INTERVAL", "LiveSide", "Show", "as_collection", "pinned_ids"]

#: Shortest time between two pushes of a generation's growing data (seconds).
STREAM_INTERVAL = 0.1


class Show(Protocol):
    """Puts ``run`` on view and makes it the side's ``run``.

    ``partial``: more of the same run may follow (a long prompt's first blocks, a token of
    a generation). ``ahead``: ids newly tracked, which a view may push before the payload.
    """

    def __call__(self, run: LensRun, partial: bool = False, ahead: Sequence[int] = ()) -> None:
        """Show the run (see the class docstring)."""


class LiveSide:
    """A model, its own runner and its current run (see the module docstring).

    Args:
        model: the model this side runs on.
        show: puts a run on view and sets :attr:`run` (before anything that observes the
            view can read it); raising leaves the view and :attr:`run` as they were.
        fail: called with the exception of a failed run, or of a failed ``show``.
        on_busy: called with True/False as the side's runs start and end.
        on_progress: called with (fraction, status) while one runs.
        pins: the pinned token ids now; a finished run that lacks some tracks them.
        stream: show a long prompt's first blocks before the run ends (side A).
        neighbour: the other side's shown run in a diff: a prompt that shares more of its
            start with it than with this side's own run continues it.

    Attributes:
        run: the run shown (None before the first, or after data not from a run).
        busy: a run of this side is running or waiting.
    """

    def __init__(
        self,
        model: Any,
        show: Show,
        fail: Callable[[BaseException], None],
        on_busy: Callable[[bool], None],
        on_progress: Callable[[float, str], None],
        pins: Callable[[], list[int]],
        stream: bool = False,
        neighbour: Callable[[], LensRun | None] = lambda: None,
    ) -> None:
        self.model = model
        self._neighbour = neighbour
        self.run: LensRun | None = None
        self.busy = False
        self._show = show
        self._fail = fail
        self._on_busy = on_busy
        self._pins = pins
        self._stream = stream
        self._runner = Runner(model, self._set_busy, on_progress)

    def claim(self) -> int:
        """Make the next request the newest (see :meth:`Runner.claim`); returns its ticket."""
        return self._runner.claim()

    def request(
        self,
        prompt: str,
        options: LensOptions,
        pins: Sequence[int],
        background: bool,
        ticket: int | None = None,
        fresh: bool = False,
    ) -> None:
        """Run ``prompt`` with ``options``, tracking ``pins`` everywhere, and show it.

        ``fresh``: run it whole, taking nothing from a shown run (:meth:`_continues`).
        """

        def job(control: Control) -> LensRun:
            def partial(run: LensRun) -> None:
                control.check()  # a superseded run must not show its first screen either
                self._apply(run, partial=True)

            on_partial = partial if self._stream else None
            return run_options(
                self.model,
                prompt,
                options,
                extra=pins,
                control=control,
                on_partial=on_partial,
                previous=None if fresh else self._continues(prompt),
            )

        self._runner.submit(job, self._apply, self._fail, background, ticket)

    def submit(
        self,
        job: Callable[[Control], Any],
        apply: Callable[[Any], None],
        fail: Callable[[BaseException], None],
        background: bool,
    ) -> None:
        """Run another kind of job on this side's runner (a patching sweep).

        It takes turns with the side's lens runs, shows in its busy and progress, and the
        widget's Stop ends it.
        """
        self._runner.submit(job, apply, fail, background)

    def track(self, ids: Sequence[int], background: bool = False) -> None:
        """Track ``ids`` exactly at every cell of the shown run (nothing without a run).

        With the run's hidden states kept this takes milliseconds and happens here; else
        (NDIF, a prompt too long to keep) the runner collects the lens again.
        """
        run = self.run
        if run is None:
            return
        ids = check_track_ids(ids, run.request.vocab_size)
        new = sorted(set(ids) - set(run.extra))
        if not new or (self.busy and not run.complete):
            return  # a run still streaming tracks the pins when it ends
        if run.normed is not None:
            try:
                self._apply(session.track(run, ids), ahead=new)
            except Exception as exc:  # reported as a run's failure is, never lost
                self._fail(exc)
            return
        self._runner.submit(
            lambda control: session.track(run, ids, control), self._apply, self._fail, background
        )

    def generate(
        self,
        prompt: str,
        options: LensOptions,
        pins: Sequence[int],
        n: int,
        *,
        sample: bool,
        seed: int | None,
        temperature: float,
        background: bool,
        ticket: int | None = None,
    ) -> None:
        """Write ``n`` tokens after ``prompt``, showing each as it comes.

        The shown run is extended when it is of ``prompt``; otherwise ``prompt`` runs
        first. Arguments are checked already (``generation.check_arguments``).
        """
        current = self.run if self.run is not None and self.run.prompt == prompt else None

        def job(control: Control) -> LensRun:
            last_shown = [0.0]

            def shown(extended: LensRun) -> None:
                control.check()  # a superseded generation must not overwrite a newer view
                # Each push rebuilds the whole payload, so at most STREAM_INTERVAL apart; the
                # run's end (and a Stop) shows the last token whatever the interval.
                now = time.monotonic()
                if now - last_shown[0] >= STREAM_INTERVAL:
                    last_shown[0] = now
                    self._apply(extended, partial=True)

            run = current
            if run is None:  # a new prompt: its lens first, in this thread too
                run = run_options(
                    self.model,
                    prompt,
                    options,
                    extra=pins,
                    control=control,
                    previous=self._continues(prompt),
                )
                shown(run)
            try:  # each token is shown as it comes, so Stop keeps the tokens written so far
                return generation.generate(
                    run,
                    n,
                    sample=sample,
                    seed=seed,
                    temperature=temperature,
                    control=control,
                    on_token=shown,
                )
            except Cancelled:
                if self.run is run:  # stopped, not replaced: show the last token appended
                    self._apply(run, partial=True)
                raise

        self._runner.submit(job, self._apply, self._fail, background, ticket)

    def _continues(self, prompt: str) -> LensRun | None:
        """The run a new ``prompt`` may continue: this side's or its neighbour's.

        The neighbour's when it shares more of the prompt's start (judged on the text here;
        the run itself compares tokens and what was asked).
        """
        own, other = self.run, self._neighbour()
        if other is None or other.model is not self.model:
            return own
        if own is None:
            return other
        better = shared_length(other.prompt, prompt) > shared_length(own.prompt, prompt)
        return other if better else own

    def stop(self) -> bool:
        """Abandon the running and waiting runs; True if there was one."""
        return self._runner.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no run of this side runs or waits; False on timeout."""
        return self._runner.wait_idle(timeout)

    def close(self) -> None:
        """Abandon the runs and end the runner's thread (the widget was closed)."""
        self._runner.close()
        self.run = None

    def result(self) -> dict[str, Any] | None:
        """The shown run in ``collect_logit_lens``'s format (None without one)."""
        return None if self.run is None else as_collection(self.run.result)

    def _apply(self, run: LensRun, partial: bool = False, ahead: Sequence[int] = ()) -> None:
        self._show(run, partial, ahead)
        if not partial:  # pins added while it ran
            missing = set(self._pins()) - set(run.extra)
            if missing:
                self.track(sorted(missing))

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._on_busy(busy)


def pinned_ids(pins: Sequence[Mapping[str, Any]]) -> list[int]:
    """Every token id of the ``pins`` trait, sorted, once each."""
    return sorted({int(i) for pin in pins for i in pin.get("ids", [])})


def as_collection(result: Mapping[str, Any]) -> dict[str, Any]:
    """A run's result with tensors, as ``collect_logit_lens`` returns it."""
    out = dict(result)
    for key in ("topk", "topk_probs", "entropy", "target_logprobs", "target_ranks", "kl"):
        if key in result:
            out[key] = torch.as_tensor(np.asarray(result[key]))
    out["tracked"] = [torch.as_tensor(np.asarray(t)) for t in result["tracked"]]
    out["probs"] = [torch.as_tensor(np.asarray(p)) for p in result["probs"]]
    out["vocab"] = dict(result["vocab"])
    return out
