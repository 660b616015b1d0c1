"""A marimo app showing LogitLensWidget on the embedded SmolLM2 model (tests/marimo).

The cells are marimo's: each one's last expression is its output, and its arguments are the
names it reads from other cells, hence the noqa for bare expressions and capitalized names.
"""

# ruff: noqa: B018, N803
import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import marimo as mo
    from logitlenskit import LogitLensWidget, load_model

    return LogitLensWidget, load_model, mo


@app.cell
def _(LogitLensWidget, load_model, mo):
    selections = []
    w = LogitLensWidget(model=load_model(), prompt="The capital of France is")
    w.on_select(lambda *args: selections.append(args))
    view = mo.ui.anywidget(w)
    view
    return selections, view, w


@app.cell
def _(mo, w):
    # Python's own top 20 for the last cell, and one of them in no position's top-k (so
    # nothing was collected for it: pinning it needs a trajectory from Python).
    answer, _ = w.detail({"run": w.data["run"], "layer": 29, "position": 4, "k": 20}, [])
    seen = set().union(*(set(t.tolist()) for t in w.result["tracked"]))
    fresh = next(i for i in answer["ids"] if i not in seen)
    mo.plain_text(f"IDS {' '.join(map(str, answer['ids']))} FRESH {fresh}")
    return


@app.cell
def _(mo):
    bonjour = mo.ui.button(label="Bonjour from Python", value=0, on_click=lambda n: n + 1)
    show = mo.ui.button(label="Show Python's state", value=0, on_click=lambda n: n + 1)
    mo.hstack([bonjour, show])
    return bonjour, show


@app.cell
def _(bonjour, w):
    if bonjour.value:
        w.k = 8
        w.prompt = "Bonjour"
    return


@app.cell
def _(mo, selections, show, w):
    show.value
    mo.plain_text(
        f"STATE selected={selections[-1] if selections else None} "
        f"prompt={w.prompt!r} positions={len(w.result['input'])} k={w.k} "
        f"pins={[p['ids'] for p in w.pins]} error={w.error!r}"
    )
    return


if __name__ == "__main__":
    app.run()
