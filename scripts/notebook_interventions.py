"""The cells of notebooks/interventions.ipynb (make_notebooks.py writes it).

The numbers in the markdown were read from runs of these cells on SmolLM2-135M-Instruct
(deterministic on CPU); the notebook test runs them again.
"""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

INTERVENTIONS = [
    new_markdown_cell(
        "# Patch, steer, ablate: from looking to intervening\n\n"
        "Every intervention here is an *edit* made inside the same nnsight trace that reads "
        "the lens, so the edited grid is exact and runs the same way on NDIF. An edited "
        "widget shows the edited run (side A) against the same prompt without the edit "
        "(side B, *baseline*): the diff's colors are the edit's effect, and the cells it can "
        "reach are marked. Details: docs/interventions.md."
    ),
    new_code_cell(
        "import numpy as np\n\n"
        "from logitlenskit import (Ablate, LogitLensWidget, collect_logit_lens, load_model,\n"
        "                          patch_from, patch_sweep, plot_sweep, steer)\n\n"
        "model = load_model()\n"
        'CLEAN = "The Eiffel Tower is in the city of"\n'
        'CORRUPT = "The Colosseum is in the city of"\n'
        'TARGETS = {"Paris": " Paris", "Rome": " Rome"}\n\n\n'
        "def answer(data):\n"
        '    """p(Paris) and p(Rome) at the last position of the last layer."""\n'
        '    p = np.exp(data["target_logprobs"][:, -1, -1].numpy())\n'
        '    return f"p(Paris) {p[0]:5.1%}   p(Rome) {p[1]:5.1%}"\n\n\n'
        'print("clean:  ", answer(collect_logit_lens(CLEAN, model, layers=[-1], targets=TARGETS)))\n'
        'print("corrupt:", answer(collect_logit_lens(CORRUPT, model, layers=[-1], targets=TARGETS)))'
    ),
    new_markdown_cell(
        "## Patch one cell\n\n"
        "The two prompts have the same number of tokens (9), so positions line up. "
        "`w.patch(layer, position)` writes the clean prompt's residual stream at that cell "
        "into the corrupt run (in the widget: *Patch into B* in a side-A cell's popup). "
        "The widget then shows the patched corrupt run against the corrupt run."
    ),
    new_code_cell(
        "w = LogitLensWidget.compare(CLEAN, CORRUPT, model=model, targets=TARGETS,\n"
        '                            labels=["Eiffel", "Colosseum"])\n'
        "w.patch(12, 2)  # layer 12, position 2: 'iffel' → into 'osse'\n"
        'print("patched:", answer(w.result))\n'
        "w"
    ),
    new_markdown_cell(
        "**What it shows.** One vector, the state of `iffel` after layer 12, turns the "
        "corrupt run's answer from ` Rome` (85%) to ` Paris` (56%, against 66% for the clean "
        "prompt itself). Cells before layer 12 and before position 2 are the corrupt run's "
        "own, bit for bit; the marked region is where the patch can act."
    ),
    new_markdown_cell(
        "## Sweep every cell: a causal-tracing figure\n\n"
        "`patch_sweep` patches every (layer, position) of the clean run into the corrupt "
        "one, many patches per forward pass, and measures the last position's "
        "log p(Paris) − log p(Rome). The figure shows the normalized effect: 0 is the "
        "corrupt run, 1 the clean run."
    ),
    new_code_cell(
        'result = patch_sweep(model, CLEAN, CORRUPT, metric="logit_diff", target=" Paris", '
        'foil=" Rome")\n'
        "plot_sweep(result)"
    ),
    new_code_cell(
        "effect = result.normalized()\n"
        "for p, token in enumerate(result.tokens):\n"
        '    row = " ".join(f"{effect[l, p]:5.2f}" for l in (0, 6, 12, 18, 22, 23, 26, 29))\n'
        '    print(f"{token!r:10} {row}")'
    ),
    new_markdown_cell(
        "**What it shows.** Two sites carry the fact, as in causal-tracing figures of much "
        "larger models: the subject's tokens (`iffel` restores 0.8–1.0 of the difference "
        "when patched anywhere from layer 0 to 22, `Tower` about 0.4) until layer 22, and "
        "the last position from layer 23 on (0.78 there, 1.0 at the output). Between them "
        "the information moves from the subject to the last token over layers 22–23. This "
        "is one prompt pair on a 135M-parameter model, not an average over many facts; the "
        "metric is a log-probability difference, which weights small probabilities more "
        "than a probability would. In the widget, `w.sweep_patches(...)` draws the same map "
        "as it fills, with Stop; a click on a cell opens that patched run."
    ),
    new_code_cell(
        'w.sweep_patches(metric="logit_diff", target=" Paris", foil=" Rome", '
        "layers=list(range(0, 30, 3)), wait=True)\n"
        "w"
    ),
    new_markdown_cell(
        "## Steer\n\n"
        "`w.steer(layer, direction, alpha)` adds α times a direction to the residual stream "
        "after a layer. A token's direction is its unembedding row, unit length, so α is in "
        "units of the residual stream's own scale. α = 0 is the baseline, bit for bit; the "
        "widget's α box reruns the steered side only."
    ),
    new_code_cell(
        "for layer in (12, 20):\n"
        "    for alpha in (20, 40, 80):\n"
        '        edit = steer(model, layer, " Paris", alpha)\n'
        "        data = collect_logit_lens(CORRUPT, model, layers=[-1], targets=TARGETS, "
        "edits=[edit])\n"
        '        print(f"layer {layer}, α {alpha:2}:", answer(data))'
    ),
    new_code_cell(
        "s = LogitLensWidget(model=model, prompt=CORRUPT, targets=TARGETS)\n"
        's.steer(20, " Paris", 80.0)\n'
        "s"
    ),
    new_markdown_cell(
        "**What it shows.** Steering toward ` Paris` after layer 20 leaves the answer alone "
        "up to α = 40 and makes it a coin toss at α = 80 (48% Paris, 40% Rome); after layer "
        "12 the same α moves it less (10%): what a direction does depends on where it is "
        "added, and a token's output direction is a blunt instrument in the middle of the "
        "network. `prompt_direction` and `mean_direction` make directions from prompts."
    ),
    new_markdown_cell(
        "## Ablate\n\n"
        '`Ablate(layer, "mlp")` zeroes a layer\'s MLP output (`"attention"`, or '
        '`"heads"` with `heads=[...]`; `ablate(..., mean_over=prompts)` writes the mean '
        "instead of zeros). With sub-layer rows the grid shows where the effect starts."
    ),
    new_code_cell(
        "for layer in (26, 27, 28, 29):\n"
        '    for part in ("attention", "mlp"):\n'
        "        data = collect_logit_lens(CORRUPT, model, layers=[-1], targets=TARGETS,\n"
        "                                  edits=[Ablate(layer, part)])\n"
        '        print(f"layer {layer} {part:9}:", answer(data))'
    ),
    new_code_cell(
        "a = LogitLensWidget(model=model, prompt=CORRUPT, targets=TARGETS, sublayers=True,\n"
        "                    layers=list(range(24, 30)))\n"
        'a.ablate(29, "mlp")\n'
        "a"
    ),
    new_markdown_cell(
        "**What it shows.** Without layer 29's MLP, p(Rome) falls from 85% to 16%; no other "
        "single attention or MLP block of the last four layers takes it below 73%. The "
        "after-attention row of layer 29 is unchanged in the widget (the MLP comes after it); "
        "only the output row moves."
    ),
]
