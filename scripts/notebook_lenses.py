"""The cells of notebooks/lenses.ipynb (make_notebooks.py writes it).

The fit here is deliberately small (4,096 model-written tokens, one minute of refinement) so
the notebook runs in a few minutes on 2 cores; docs/lenses.md has the full-size figures.
"""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

LENSES = [
    new_markdown_cell(
        "# Four lenses, and how far to trust each layer\n\n"
        "The logit lens decodes a layer's state as if it were the last layer's. A **linear "
        "shortcut** (Din et al. 2023) and a **tuned lens** (Belrose et al. 2023) first map "
        "each layer's state with an affine map fitted to the model's own output; the "
        "token-identity **Patchscope** (Ghandeharioun et al. 2024) lets the model read the "
        "state again. Every view names its lens and shows each layer's measured "
        "reliability. Details: docs/lenses.md."
    ),
    new_code_cell(
        "import tempfile\n\n"
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n\n"
        "from logitlenskit import LogitLensWidget, collect_logit_lens, fit_lens, load_model\n\n"
        "model = load_model()\n"
        "# Small on purpose, so this runs in minutes: the model writes 4,096 tokens to fit on, and\n"
        "# the tuned lens gets one minute of refinement after its least-squares start.\n"
        'tuned = fit_lens(model, "tuned", tokens=4096, budget_s=60, seed=0)\n'
        "tuned.info"
    ),
    new_markdown_cell(
        "`fit_lens` measured three lenses on the same held-out text, which the fit never "
        "saw: the logit lens, the linear shortcut the tuned lens started from, and the tuned "
        "lens. Per layer: the mean KL of each lens's distribution from the model's output "
        "(nats), and how often its top-1 is the model's."
    ),
    new_code_cell(
        'names = ["logit lens", "linear shortcut", "tuned lens"]\n'
        'layers = np.arange(len(tuned.reliability["logit lens"]["kl"]))\n'
        "fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))\n"
        "for name in names:\n"
        "    measured = tuned.reliability[name]\n"
        '    left.plot(layers, np.maximum(measured["kl"], 1e-3), marker=".", label=name)\n'
        '    right.plot(layers, measured["top1"], marker=".", label=name)\n'
        'left.set(yscale="log", xlabel="layer", ylabel="KL(final ‖ lens), nats")\n'
        'right.set(xlabel="layer", ylabel="top-1 agreement", ylim=(0, 1.02))\n'
        "right.legend()\n"
        'fig.suptitle("SmolLM2-135M, held-out model-written text")\n'
        "fig.tight_layout()"
    ),
    new_code_cell(
        "middle = slice(8, 23)\n"
        "for name in names:\n"
        "    measured = tuned.reliability[name]\n"
        '    kl = np.mean(measured["kl"][middle])\n'
        '    top1 = np.mean(measured["top1"][middle])\n'
        '    print(f"{name:16} layers 8–22: mean KL {kl:6.2f} nats, top-1 agreement {top1:.2f}")'
    ),
    new_markdown_cell(
        "**What it shows.** On a model this small the logit lens is nearly blind in the "
        "middle layers: over layers 8–22 its KL from the model's own output averages 16 nats "
        "and its top-1 agrees 17% of the time. A linear map per layer, fitted in closed form "
        "on 3,175 tokens the model wrote, brings that KL to 2.2 nats and the agreement to 32%; "
        "the tuned lens's minute of KL training (6 to 12 steps, as the machine allows) takes "
        "it a little lower, with about the same agreement. So here a fitted lens is not "
        "a refinement of the logit lens but the difference between noise and signal in the "
        "middle of the network. The fit is small: more text and a longer budget lower both "
        "fitted curves (docs/lenses.md has the full-size figures)."
    ),
    new_markdown_cell(
        "## In the grid\n\n"
        '`lens=` takes a fitted lens (or its folder, or a name: `"tuned"` fits one for the '
        "model's weights on first use and caches it). The grid then names the lens in its "
        "title and draws the reliability along its columns: darker is less trustworthy."
    ),
    new_code_cell(
        "folder = tuned.save(tempfile.mkdtemp())\n"
        'prompt = "The Eiffel Tower is in the city of"\n'
        "data = collect_logit_lens(prompt, model, lens=folder)\n"
        'print(data["lens"], [round(kl, 1) for kl in data["lens_reliability"]["kl"][::5]])\n'
        "show = LogitLensWidget(data)\n"
        "show"
    ),
    new_markdown_cell(
        "## The Patchscope beside the logit lens\n\n"
        "Two lenses of one prompt are the two sides of the diff view. The Patchscope needs "
        "no fit: each cell's state goes into the last token of `\"cat -> cat\\n1135 -> "
        "1135\\nhello -> hello\\n?\"` at the same layer, and the model's next token there is "
        "the cell's decoding."
    ),
    new_code_cell(
        'd = LogitLensWidget.compare(prompt, prompt, model=model, lens="patchscope",\n'
        '                            lens_b="logit", labels=["patchscope", "logit lens"],\n'
        "                            layers=list(range(0, 30, 3)) + [29], metrics=True)\n"
        'kl_scope, kl_logit = d.result["kl"][:, -1].numpy(), d.compare_result["kl"][:, -1].numpy()\n'
        'for layer, a, b in zip(d.result["layers"], kl_scope, kl_logit):\n'
        '    print(f"layer {layer:2}: KL from the output, patchscope {a:6.2f}, logit lens {b:6.2f}")\n'
        "d"
    ),
    new_markdown_cell(
        "**What it shows.** At the last position the Patchscope's KL from the model's output "
        "is far below the logit lens's at every layer (9.6 vs 25 nats at layer 0, 5.4 vs 37 "
        "at layer 12, 0.04 vs 10.5 at layer 24) and 0 at the last layer, where it is the "
        "model's own prediction. It is one prompt, and the Patchscope answers a different "
        "question (what the model makes of the state when it reads it back), so this is not "
        "a calibrated reliability; the fitted lenses' held-out figures are."
    ),
]
