"""What a live widget does with its sides: runs, Stop, pins, generation, diffs, results.

:class:`LiveMethods` is a mixin of :class:`~logitlenskit.LogitLensWidget`: widget.py holds
the traits, their checks and the browser commands; the public methods that drive the
widget's :class:`~logitlenskit.live.side.LiveSide` objects (side A, and side B of a live
diff), and how their runs go on view (``data``, ``compare_data``) and back when a run is
stopped, are here. They use the widget's traits (``prompt``, ``pins``, ``data``,
``error``, ...), its ``_a``/``_b`` sides and its ``_options()`` (docs/live-loop.md).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..analyses import generation
from ..base.formats import to_js_format, to_widget_payload
from ..base.validate import as_int
from ..core import request, session
from ..core.options import LensOptions
from ..core.request import check_track_ids, large_run, layer_count, model_tokenizer, vocab_size
from ..core.session import LensRun
from ..core.targets import resolve_targets
from .commands import one_line
from .compare import check_same_tokenizer
from .live_checks import check_seed
from .side import as_collection

if TYPE_CHECKING:
    from .widget import LogitLensWidget

__all__ = ["LARGE_PAYLOAD_MB", "LARGE_PROMPT_TOKENS", "LiveMethods", "Shown"]

log = logging.getLogger("logitlenskit.live.widget")

#: Above these, a run started from the browser asks first (and one from Python warns).
LARGE_PROMPT_TOKENS = request.LARGE_PROMPT_TOKENS
LARGE_PAYLOAD_MB = request.LARGE_PAYLOAD_MB


class Shown(NamedTuple):
    """What the widget showed before a run started streaming (Stop goes back to it)."""

    run: LensRun | None
    collection: Mapping[str, Any] | None
    data: dict[str, Any]


class LiveMethods:
    """Runs, Stop, pins, generation and diffs of a live widget (see the module docstring)."""

    def set_targets(self, spec: Any) -> None:
        """Measure named tokens or words exactly at every cell, and pin them.

        Args:
            spec: ``{name: what}`` or a list of ``what``, where ``what`` is a token id, a
                word (every first token of its spellings: "Paris", " Paris", "paris", ...),
                or a list of those (a set whose probabilities are summed); see
                :mod:`logitlenskit.targets`. ``None`` removes the targets.

        Each target's summed log-probability and the rank of its best member are computed
        inside the trace at every cell: the rank and log-ratio color modes and chart metrics
        read them. With a model, setting targets reruns it.

        Raises:
            ValueError: words without a model, or what ``resolve_targets`` refuses.
        """
        if self._model is None:
            raise ValueError(
                "set_targets needs the widget's model (words are tokenized with it); without "
                "one, set w.targets = [{'name': ..., 'ids': [token ids]}]"
            )
        size = vocab_size(self._model)
        resolved = resolve_targets(spec, model_tokenizer(self._model), size)
        self.targets = [t.as_dict() for t in resolved]

    # -------------------------------------------------------------- runs

    def run(self, prompt: str | None = None) -> None:
        """Collect the lens for ``prompt`` (default: the current one) and show it.

        Returns once the new data is in place. A bad prompt, or a failed run (NDIF, network,
        memory), leaves the current data in place and shows the reason in the widget
        (``w.error``; the full traceback is logged) instead of raising, so a typo or an
        outage never loses the view.
        """
        if self._model is None:
            raise ValueError("this widget has no model: LogitLensWidget(model=load_model())")
        if prompt is not None and prompt != self.prompt:
            self.prompt = prompt  # the observer runs it
        else:
            self._request_run(background=False, fresh=True)

    def _request_run(self, background: bool, fresh: bool = False) -> None:
        """Run side A's prompt; ``fresh``: from scratch, taking nothing from a shown run.

        A run asked again for the same prompt (``w.run()``, Enter on an unchanged prompt) is
        fresh: the model's weights may have been changed in place since.
        """
        with self._request_lock:  # the newest ticket carries the newest trait values
            ticket = self._a.claim()
            prompt, options, pins = self.prompt, self._options(), self._pinned()
        warning = self._size_warning(prompt, options)
        if warning and background:
            self._ask(warning, lambda: self._submit_run(prompt, options, pins, True, fresh=fresh))
            return
        if warning:
            warnings.warn(warning, ResourceWarning, stacklevel=4)
        self._submit_run(prompt, options, pins, background, ticket, fresh)

    def _submit_run(
        self,
        prompt: str,
        options: LensOptions,
        pins: list[int],
        background: bool,
        ticket: int | None = None,
        fresh: bool = False,
    ) -> None:
        self.error = ""
        self._a.request(prompt, options, pins, background, ticket, fresh=fresh)

    def _show(self, run: LensRun, partial: bool = False, ahead: Sequence[int] = ()) -> None:
        """Side A's run on view (LiveSide's ``show``)."""
        # Built before anything changes: a failure here leaves the view and w.result as
        # they were (the runner reports it in w.error).
        self._annotate(run)
        payload = {**to_widget_payload(run.payload_source()), "run": run.run_id}
        if ahead:
            self._push_trajectories(run, ahead)
        if not run.complete and (self._run is None or self._run.complete):
            # A run starts streaming: keep what Stop would go back to.
            self._settled = Shown(self._run, self._collection, self.data)
        with self.hold_sync():
            self._a.run = run
            self._own_payload = payload
            self.data = payload
            if not partial:
                self.error = ""

    def _show_b(self, run: LensRun, partial: bool = False, ahead: Sequence[int] = ()) -> None:
        """Side B's run on view, as ``compare_data`` (its pushed trajectories: not sent)."""
        self._annotate(run)
        self._b.run = run
        self.compare_data = {**to_widget_payload(run.payload_source()), "run": run.run_id}

    def _size_warning(self, prompt: str, options: LensOptions) -> str:
        """Why a run is large enough to ask first, or ""."""
        try:
            n_pos = len(self._model.tokenizer.encode(prompt))
            n_layers = len(options.layers) if options.layers else layer_count(self._model, None)
        except Exception:  # the run itself will report what is wrong
            return ""
        k = options.k
        megabytes = large_run(n_layers, n_pos, k, LARGE_PROMPT_TOKENS, LARGE_PAYLOAD_MB)
        if megabytes is not None:
            return (
                f"This run is large: {n_pos:,} tokens × {n_layers} layers with k={k} "
                f"sends about {megabytes:,.0f} MB to the browser. Run anyway?"
            )
        return ""

    def _push_trajectories(self, run: LensRun, ids: Sequence[int]) -> None:
        """Send newly tracked trajectories before the payload that also holds them.

        A pin's line then needs a few kilobytes to reach the browser, not the whole payload
        re-sent, decoded and re-laid out (docs/live-loop.md, "Pushed trajectories").
        """
        probs = session.trajectories(run, ids)
        vocab = run.result["vocab"]
        content = {
            "kind": "llk-trajectories",
            "run": run.run_id,
            "ids": [int(i) for i in ids],
            "tokens": [vocab.get(int(i), "") for i in ids],
        }
        self.send(content, [probs.astype("<f4").tobytes()])

    def _fail(self, exc: BaseException) -> None:
        log.error("logit-lens run failed", exc_info=exc)
        self.error = one_line(exc)

    def stop(self) -> bool:
        """Cancel the current run. True if something was running.

        A prompt's run is cancelled whole: the data, ``w.result`` and ``w.prompt`` go back
        to the last finished run (a long prompt's first screens are taken back), and the
        new prompt waits in ``w.draft`` (the widget's box keeps it, marked as not run).
        Tokens a generation wrote before Stop stay.
        """
        stopped = [side.stop() for side in (self._a, self._b) if side is not None]
        if not any(stopped):
            return False
        self._a.wait(2.0)  # its next layer or block check ends it
        self.error = self._cancel_to_settled()
        return True

    def _cancel_to_settled(self) -> str:
        """Put back the last finished run and keep the stopped prompt as a draft."""
        draft, reverted = self.prompt, False
        run = self._run
        if run is not None and not run.complete and self._settled is not None:
            self._a.run, self._collection, data = self._settled
            self._own_payload, reverted = data, True
        else:
            data = self.data
        shown_prompt = self._run.prompt if self._run is not None else ""
        self._restoring = True
        try:
            with self.hold_sync():
                self.data = data
                if self._model is not None and draft != shown_prompt:
                    self.prompt, self.draft, reverted = shown_prompt, draft, True
        finally:
            self._restoring = False
        if not data:
            return "Stopped before the first run finished: there is no lens to show yet"
        if reverted:
            return "Stopped: the run was cancelled; the lens shown is the previous run's"
        return "Stopped: what is shown stays (a generation keeps the tokens written so far)"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until runs started from the browser are done; False on timeout."""
        done = [side.wait(timeout) for side in (self._a, self._b) if side is not None]
        return all(done)

    def _set_busy(self, busy: bool, side: str = "a") -> None:
        # Both sides of a diff run on their own runners; the widget is busy while either is.
        (self._busy_sides.add if busy else self._busy_sides.discard)(side)
        with self.hold_sync():
            self.busy = bool(self._busy_sides)
            self.progress = -1.0
            self.status = ""

    def _set_progress(self, fraction: float, status: str) -> None:
        with self.hold_sync():
            self.progress = float(fraction)
            self.status = status

    def _ask(
        self,
        question: str,
        then: Callable[[], None],
        otherwise: Callable[[], None] | None = None,
    ) -> None:
        self._waiting, self._declined = then, otherwise
        self.confirm = question

    # -------------------------------------------------------------- follow-ups

    def track(self, ids: Sequence[int]) -> None:
        """Compute the exact trajectory of token ``ids`` everywhere, and pin them to show it.

        Each id not pinned yet gets a pin of its own, so its line shows in the chart. They
        join the data (pins, pinned rows, color-by-token and groups are then exact
        everywhere) and stay tracked when the prompt changes while they are pinned; unpin
        one (``w.pins``) to hide its line. Returns once they are computed and shown.
        """
        if self._run is None:
            raise ValueError("nothing to track yet: the widget has no run of a model")
        check_track_ids(ids, self._run.request.vocab_size)
        pinned = set(self._pinned())
        new = [{"ids": [i]} for i in dict.fromkeys(map(as_int, ids)) if i not in pinned]
        if new:
            self.pins = [*self.pins, *new]  # the pins observer tracks them
        else:
            self._a.track(ids)

    def generate(
        self,
        n: int = 20,
        *,
        sample: bool = False,
        seed: int | None = None,
        temperature: float = 1.0,
        _background: bool = False,
    ) -> None:
        """Let the model write ``n`` tokens after the prompt, and watch the lens as it does.

        Each token is fed once (the KV cache is reused; the prompt is never rerun) and its
        position joins the grid as soon as it is chosen, with the row where it became the
        top-1 ("commitment") and where it entered the top-k. Generation stops at the
        model's end-of-sequence token (a chat model's end of turn), at ``n``, or at Stop;
        the tokens so far stay. With ``w.chat = True`` the prompt is a user message in the
        model's chat template. Returns when done (from the widget it runs in a thread).

        Args:
            n: how many tokens, 1..512.
            sample: sample (with ``temperature``) instead of taking the most likely token.
            seed: sampling seed; the same seed writes the same tokens.
            temperature: > 0.

        Raises:
            ValueError: no model, a remote widget (generation runs here), bad arguments.
        """
        if self._model is None:
            raise ValueError("this widget has no model: LogitLensWidget(model=load_model())")
        if self.remote:
            raise ValueError("generation runs on this machine only: set w.remote = False first")
        generation.check_arguments(n, temperature)
        seed = check_seed(seed)
        if not self.prompt:
            raise ValueError("set a prompt first: w.prompt = '...'")
        with self._request_lock:
            ticket = self._a.claim()
            prompt, options, pins = self.prompt, self._options(), self._pinned()
        self._a.generate(
            prompt,
            options,
            pins,
            n,
            sample=sample,
            seed=seed,
            temperature=temperature,
            background=_background,
            ticket=ticket,
        )

    def on_select(
        self, callback: Callable[[int, int, int, str], Any], remove: bool = False
    ) -> None:
        """Call ``callback(layer, position, token_id, token)`` when the user selects.

        A selection is a click on a cell (its top-1 token) or on a token in its popup. An
        exception in a callback is logged and shown in ``w.error``, not raised. In a
        notebook, what callbacks print appears below the cell that called ``on_select``.
        """
        if remove:
            self._select_callbacks.remove(callback)
        else:
            self._callback_output.show_here()
            self._select_callbacks.append(callback)

    @classmethod
    def compare(
        cls,
        a: Any,
        b: Any,
        *,
        model: Any = None,
        model_b: Any = None,
        labels: Sequence[str] = ("A", "B"),
        lens_b: str = "",
        **kwargs: Any,
    ) -> LogitLensWidget:
        """Diff two runs in one grid: prompt A vs prompt B, or model A vs model B.

        Args:
            a: side A: a prompt (with ``model``), or collected data.
            b: side B: a prompt (run on ``model_b``, default ``model``), or collected data.
            model: makes the diff live: editing either prompt (``w.prompt``,
                ``w.compare_prompt``, or the widget) reruns that side; ``k``, ``layers``,
                targets, pins and metrics apply to both.
            model_b: side B's model, which must share ``model``'s tokenizer (e.g. an edited
                copy: a layer ablated or a direction steered through nnsight).
            labels: what the view calls the two sides.
            lens_b: side B's lens, for two lenses of one prompt (``compare(p, p, model=m,
                lens="tuned", lens_b="logit")``); default side A's (``lens=``).
            **kwargs: the widget's other arguments (``k``, ``layers``, ``targets``, ``lens``).

        Returns:
            The widget: cells can be colored by the change in a token's probability (A − B)
            or by the Jensen–Shannon divergence of the two top-k distributions; the popup
            shows both sides and the chart both trajectories. Positions are aligned by
            index; past the shorter prompt only one side shows (docs/views.md).

        Raises:
            ValueError: different tokenizers, different layers, or prompts without a model.
        """
        if model is None:
            if isinstance(a, str) or isinstance(b, str):
                raise ValueError("prompts need a model: LogitLensWidget.compare(a, b, model=...)")
            w = cls(data=a, compare_labels=list(labels), **kwargs)
            w.compare_data = b
            return w
        side_model = model if model_b is None else model_b
        check_same_tokenizer(model, side_model)
        w = cls(model=model, prompt=a, compare_labels=list(labels), **kwargs)
        w.compare_lens = lens_b
        w._b = w._new_side(side_model, "b")
        w.compare_prompt = b
        return w

    @property
    def compare_result(self) -> dict[str, Any] | None:
        """Side B of a live diff in ``collect_logit_lens``'s format (None otherwise)."""
        return None if self._b is None else self._b.result()

    @property
    def result(self) -> dict[str, Any] | None:
        """The shown data in ``collect_logit_lens``'s format (None for V2 or payload data).

        Only finished runs: while a long prompt streams it is the run before (what Stop
        goes back to; None if there was none), never cells not computed yet.
        """
        run, collection = self._run, self._collection
        if run is not None and not run.complete:
            run, collection, _ = self._settled or Shown(None, None, {})
        if run is not None:
            return as_collection(run.result)
        return None if collection is None else dict(collection)

    def to_v2(self) -> dict[str, Any]:
        """The shown data as seed V2 JSON (``to_js_format``)."""
        result = self.result
        if result is None:
            raise ValueError(
                "this widget shows V2 or payload data, not a collection: "
                "w.data already is what it shows"
            )
        return to_js_format(result)
