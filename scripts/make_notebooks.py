"""Write the notebooks in notebooks/ from the cell sources below.

Notebooks are generated so their code stays reviewable as plain Python and their outputs
never get committed. Run: .venv/bin/python scripts/make_notebooks.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# The newer notebooks' cells live in modules of their own beside this script.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_interventions import INTERVENTIONS  # noqa: E402
from notebook_lenses import LENSES  # noqa: E402

# Prompts chosen by running them on both embedded models (scripts/make_notebooks.py's
# numbers in the markdown were read from those runs; the lens is deterministic on CPU).
DEMO = [
    new_markdown_cell(
        "# logitlenskit demo\n\n"
        "The **logit lens** decodes the hidden state after every layer with the model's own "
        "final norm and unembedding. Each cell of the grid below is what the model would "
        "predict at that position if it stopped at that layer.\n\n"
        "Both models here ship inside PyPI packages, so this runs offline: SmolLM2-135M-"
        "Instruct (30 layers; the first load converts it, ~25 s, later loads ~2.5 s) and "
        "Gemma 3 270M (18 layers)."
    ),
    new_code_cell("from logitlenskit import LogitLensWidget, load_model\n\nmodel = load_model()"),
    new_code_cell(
        'w = LogitLensWidget(model=model, prompt="The Eiffel Tower is in Paris. '
        'The Colosseum is in")\nw'
    ),
    new_markdown_cell(
        "**What it shows.** Read the last row (the final ` in`) from left to right. Up to "
        "layer 22 the top guesses are mostly punctuation; layers 23 to 27 say ` the`; ` Rome` enters "
        "the top 3 at layer 27 (4%), takes the top at layer 28 (46%) and ends at 97%. This "
        "small model retrieves the fact only in its last three layers.\n\n"
        "**Try it:** click a cell for its top-5, hover to see a token's probability across "
        "layers, click tokens in the popup to pin them, click an input token to compare "
        "positions. Type a new prompt in the box at the top and press Enter: the model "
        "reruns here in Python and the grid updates. Setting the prompt from Python does "
        "the same (here ` Paris` is 12% at layer 27, 80% at 28 and 98% at the output):"
    ),
    new_code_cell('w.prompt = "The Statue of Liberty is in New York. The Eiffel Tower is in"'),
    new_markdown_cell(
        "## A larger model recalls earlier: Gemma 3 270M\n\n"
        "`collect_logit_lens` returns the data behind a grid: top-k ids and probabilities "
        "for every layer and position, plus the trajectory of every token that reaches a "
        "top-k. The reduction runs inside the nnsight trace, so on NDIF (`remote=True`) only "
        "these kilobytes travel. `top1` below prints the top guess at the last position, "
        "layer by layer."
    ),
    new_code_cell(
        "from logitlenskit import collect_logit_lens, show_logit_lens\n\n"
        'gemma = load_model("gemma3-270m")\n\n\n'
        "def top1(data):\n"
        '    """The top-1 token at the last position, layer by layer."""\n'
        '    vocab, best = data["vocab"], data["topk"][:, -1, 0]\n'
        '    return " ".join(f"{layer}:{vocab[int(t)]!r}" for layer, t in zip(data["layers"], best))\n\n\n'
        'sport = collect_logit_lens("Michael Jordan played the sport of", gemma, k=5)\n'
        "print(top1(sport))"
    ),
    new_markdown_cell(
        "Layers 0 to 11 decode to unrelated tokens; from layer 12 (of 18) on, the top guess "
        "is ` basketball` (90% at layer 12): the fact is there at two thirds of the depth, "
        "and later layers keep it.\n\n"
        "**Translation.** Asked for a French word, the middle layers first name the English "
        "one:"
    ),
    new_code_cell(
        'prompt = "English: house - Français: maison. English: water - Français:"\n'
        "french = collect_logit_lens(prompt, gemma, k=5)\n"
        "print(top1(french))\n"
        'show_logit_lens(french, title="Gemma 3 270M: English to French")'
    ),
    new_markdown_cell(
        "Layers 12 to 15 put ` water` on top (about 95% at layers 12 to 14), layer 16 ` la`, "
        "and only the last layer ` eau` (56%).\n\n"
        "`show_logit_lens` is the seed notebooks' API: it returns static HTML that carries "
        "the explorer and the data, so the output above still renders after the notebook "
        "is saved and reopened without a kernel, in nbviewer and in VS Code. Clicks and "
        "pins work there but are not sent back to Python, and there is no prompt box: for "
        "that, use the live widget, `LogitLensWidget(french)` or `LogitLensWidget(model=gemma, "
        "prompt=prompt)`."
    ),
]

TOUR = [
    new_markdown_cell(
        "# A tour: the explorer from Python\n\n"
        "Everything you do with the mouse in the widget — pins, groups, pinned rows, color "
        "modes, sizes, the title, the zoom — is an ordinary trait of `LogitLensWidget`. You "
        "can read it after clicking and set it from code. This notebook walks through that, "
        "then compares two prompts side by side, looks at a second model and exports a "
        "view.\n\n"
        "**Saving.** A live widget is drawn from its model in the kernel. JupyterLab and "
        "Notebook 7 write that model into the `.ipynb` only while *Settings → Save Widget "
        "State Automatically* is on; without it, a notebook reopened without running it "
        "shows *Error displaying widget: model not found* until you run its cells again. "
        "For a view that survives anywhere, `show_logit_lens(w)` (last section) makes a "
        "static copy as a notebook output, and `w.save_html(path)` writes a file."
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
        "this costs a few rows of the unembedding, not another forward pass. `w.track(ids)` "
        "does it from Python and pins them, so their lines show. Clicking a cell asks for "
        'its top 20 the same way ("more" in the popup asks for 100).'
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
        "cell or a token in its popup is selected in the widget. What a callback prints "
        "appears below the cell that called `on_select`. Click a cell above, then look "
        "below this cell. An exception in a callback shows in the widget; it never breaks it."
    ),
    new_code_cell(
        "def describe(layer, position, token_id, token):\n"
        "    print(f\"layer {layer}, position {position} ({data['input'][position]!r}): \"\n"
        '          f"{token!r} (id {token_id})")\n\n'
        "w.on_select(describe)"
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
        "`show_logit_lens(w)` freezes the widget's current view (data, pins, colors, sizes) "
        "into a static output that renders with no kernel and no widget state, so it stays "
        "visible when the notebook is reopened or shown in nbviewer."
    ),
    new_code_cell(
        "from logitlenskit import show_logit_lens\n\n"
        'show_logit_lens(w, title="Where is the Colosseum? (static copy)")'
    ),
    new_markdown_cell(
        "`save_html` writes the same view as one standalone page (no kernel, no network). "
        "`collect_logit_lens` gives the numbers behind any view."
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
    new_markdown_cell(
        "For a paper: the grid, its color bar and the chart as an SVG (glyphs outlined, so it "
        "looks the same anywhere) or a PNG at print resolution, in the widget's theme, pins "
        "and zoom. The toolbar's *SVG* / *PNG* buttons download the same files."
    ),
    new_code_cell(
        'w.x_zoom = [20, 29]  # the layers where " Rome" rises\n'
        'svg = w.save_svg("colosseum.svg", overwrite=True)\n'
        'png = w.save_png("colosseum.png", dpi=200, overwrite=True)\n'
        'print(svg, f"{svg.stat().st_size / 1024:.0f} KiB;", png, f"{png.stat().st_size / 1024:.0f} KiB")'
    ),
]


# Numbers in the markdown were read from runs of these cells on Gemma 3 270M (CPU,
# deterministic): 64 French→German prompts.
STUDY = [
    new_markdown_cell(
        "# Studies: is the model thinking in English?\n\n"
        "Wendler et al. (2024), *Do Llamas Work in English?*, gave Llama-2 prompts such as "
        '`Français: "fleur" - 中文: "` and read, with the logit lens at the last position, '
        "the probability of the answer in the target language and of its English "
        "counterpart at every layer, averaged over hundreds of prompts. English rose in the "
        "middle layers before the target language took over at the end.\n\n"
        "This notebook asks the same question of **Gemma 3 270M** (18 layers), with the "
        "French→German prompts that ship with logitlenskit (271 concepts in five "
        "languages). A model this small is a weak translator, so the curves are low; what "
        "matters is their shape."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "from logitlenskit import collect_study, load_model, translation_prompts\n\n"
        'model = load_model("gemma3-270m")\n'
        'items = translation_prompts("fr", "de", shots=4, tokenizer=model.tokenizer, limit=64)\n'
        'print(len(items), "prompts, e.g.:")\n'
        'print(items[0]["prompt"])\n'
        'print(items[0]["targets"])'
    ),
    new_markdown_cell(
        "Each prompt has two **targets**: the German word and the English one. A word "
        "counts every first token of its spellings (`Blume`, ` Blume`, `blume`, ...); "
        "prompts whose German and English first tokens overlap are left out, as in the "
        "paper. `collect_study` runs the prompts in padded batches and keeps, per prompt "
        "and layer, only what the question needs: each target's probability and rank, "
        "their log-ratio, the KL divergence from the final output and the entropy. The "
        "reduction runs inside the nnsight trace, so the same call with `remote=True` "
        "sends kilobytes per batch from NDIF."
    ),
    new_code_cell(
        'study = collect_study(items, model, contrasts=[("Deutsch", "English")], batch_size=16)\n'
        "study"
    ),
    new_code_cell(
        'study.plot(["p(Deutsch)", "p(English)"], title="French → German, Gemma 3 270M")'
    ),
    new_markdown_cell(
        "**What it shows.** Both curves are near zero up to layer 11. At layers 12–13 the "
        "*English* word is on average the likelier one (about 13%, against 2% for German); "
        "at layer 15 they are even (7%), and from layer 16 German leads: 7% at the output, "
        "where English is down to 0.6%. The entropy strip peaks at layer 11 (4.9 nats), "
        "just before the English bump. That is the shape of the paper's figure, on a model "
        "250 times smaller. (SmolLM2-135M, mostly English-trained, barely translates these "
        "prompts, so it is not used here.)"
    ),
    new_markdown_cell(
        "The **study widget** shows the same means with their 95% bands (click a legend "
        "entry to hide it), the entropy strip and a heatmap with one row per prompt. Pick "
        "what the heatmap shows in its menu; **click a row** to open that prompt's live "
        "logit lens below, with its two targets pinned."
    ),
    new_code_cell("study.show()"),
    new_markdown_cell(
        "The numbers are a tidy table (one row per prompt × layer × quantity), ready for "
        "pandas, seaborn or a CSV/Parquet file; `study.summary()` has the means and "
        "intervals per layer."
    ),
    new_code_cell(
        "summary = study.summary()\n"
        'summary[summary.quantity.isin(["p(Deutsch)", "p(English)"]) & summary.layer.isin([11, 12, 13, 17])]'
    ),
    new_code_cell(
        "# overwrite=True: running the notebook again replaces the earlier file\n"
        'study.to_csv("study.csv", overwrite=True)\nstudy.table().head()'
    ),
    new_markdown_cell(
        "## Targets and metrics in the grid\n\n"
        "The same targets work in the live widget: they are pinned by name, and the color "
        "menu gains **KL to the final output**, **rank of the target**, **log p(target) − "
        "log p(foil)** and **change from the previous layer**, each exact (computed in the "
        "trace) with its color bar. Here the cells are colored by the log-ratio of German "
        "to English."
    ),
    new_code_cell(
        "from logitlenskit import LogitLensWidget\n\n"
        "item = items[0]\n"
        'w = LogitLensWidget(model=model, prompt=item["prompt"], targets=item["targets"])\n'
        'w.color_mode = "logprob_diff"\n'
        "w"
    ),
]


# Numbers in the markdown were read from runs of these cells on SmolLM2 (CPU, greedy).
VIEWS = [
    new_markdown_cell(
        "# Generate and watch; inside a layer\n\n"
        "Two views beyond a prompt's grid: the lens over the tokens the model writes, and "
        "the residual stream between each layer's attention and its MLP. Details: "
        "docs/views.md."
    ),
    new_code_cell(
        "from logitlenskit import LogitLensWidget, collect_logit_lens, load_model\n\nmodel = load_model()"
    ),
    new_markdown_cell(
        "## Generate and watch\n\n"
        "SmolLM2-135M-Instruct is a chat model: with `chat=True` the prompt becomes a user "
        "message in its template, and the template's tokens (`<|im_start|>`, `user`, the "
        "default system prompt) are drawn apart from your text. `w.generate(n)` (or "
        "*Generate* in the run bar) writes tokens one at a time, through the KV cache, and "
        "each new token's row joins the grid as it is chosen. The mark on the row before "
        "each generated token shows the layer from which that token stayed the top-1 "
        "(its *commitment*) and where it entered the top-k."
    ),
    new_code_cell(
        'w = LogitLensWidget(model=model, prompt="What is the capital of France?", chat=True)\n'
        "w.generate(20)\n"
        "w"
    ),
    new_code_cell(
        "import numpy as np\n\n"
        'commit = np.frombuffer(w.data["commitment"], "<i4")\n'
        'entered = np.frombuffer(w.data["entered_topk"], "<i4")\n'
        'kinds = np.frombuffer(w.data["position_kinds"], np.uint8)\n'
        'layers = w.data["layers"]\n'
        "for p in np.flatnonzero(kinds == 2):\n"
        "    print(f\"{w.data['input'][p]!r:14} top-1 from layer {layers[commit[p]]:2}, \"\n"
        '          f"in the top-{w.k} from layer {layers[entered[p]]}")'
    ),
    new_markdown_cell(
        "**What it shows.** The answer is *The capital of France is Paris.* Function words "
        "commit early (` of` is the top-1 from layer 10 on), while ` Paris` enters the "
        "top-5 at layer 26 and becomes the top-1 only at the last layer: the fact arrives "
        "late, as in the demo notebook."
    ),
    new_markdown_cell(
        "## Inside a layer\n\n"
        "`sublayers=True` adds a row per layer for the residual stream after its attention "
        "(before its MLP), read inside the trace at the point each architecture defines. "
        "The change of a target's probability across a layer then splits into the "
        "attention's part and the MLP's."
    ),
    new_code_cell(
        'prompt = "The Eiffel Tower is in Paris. The Colosseum is in"\n'
        "data = collect_logit_lens(prompt, model, layers=range(24, 30), sublayers=True,\n"
        '                          targets={"Rome": " Rome"})\n'
        'rome = np.exp(data["target_logprobs"][0, :, -1].numpy())\n'
        "previous = 0.0\n"
        'for layer, kind, p in zip(data["layers"], data["row_kinds"], rome, strict=True):\n'
        '    part = "attention" if kind == 1 else "MLP"\n'
        '    print(f"layer {layer} after {part:9}  p(Rome) = {p:6.1%}  ({p - previous:+.1%})")\n'
        "    previous = p"
    ),
    new_markdown_cell(
        "**What it shows.** ` Rome` appears after layer 27's MLP (4%); layer 28's "
        "attention leaves it at 3%, its MLP lifts it to 46%; layer 29's attention adds a "
        "little (50%) and its MLP the rest (97%). On this prompt the MLPs of the last "
        "layers write the answer. The live widget shows the same rows:"
    ),
    new_code_cell(
        "LogitLensWidget(model=model, prompt=prompt, layers=list(range(24, 30)), sublayers=True)"
    ),
    new_markdown_cell(
        "## Diff two runs\n\n"
        "`LogitLensWidget.compare(a, b, model=...)` shows two prompts in one grid (or two "
        "models over one tokenizer, e.g. a model and an edited copy). Positions are aligned "
        "by index; cells can be colored by the change in a token's probability (A − B) or by "
        "the Jensen–Shannon divergence of the two top-k lists; the popup shows both sides, "
        "the chart draws side B dashed. Type in side B's prompt box (or set "
        "`w.compare_prompt`) to rerun that side alone."
    ),
    new_code_cell(
        "d = LogitLensWidget.compare(\n"
        '    "The capital of France is",\n'
        '    "The capital of Italy is",\n'
        "    model=model,\n"
        '    labels=["France", "Italy"],\n'
        '    targets={"Paris": "Paris", "Rome": "Rome"},\n'
        ")\n"
        'd.color_mode = "jsd"\n'
        "d"
    ),
    new_code_cell(
        "from logitlenskit.live.compare import jsd_topk\n\n"
        "a, b = d.result, d.compare_result\n"
        "for layer in (20, 27, 28, 29):\n"
        '    pa = np.exp(a["target_logprobs"][:, layer, -1].numpy())\n'
        '    pb = np.exp(b["target_logprobs"][:, layer, -1].numpy())\n'
        "    jsd = jsd_topk(\n"
        '        a["topk"][layer, -1].numpy(), a["topk_probs"][layer, -1].numpy(),\n'
        '        b["topk"][layer, -1].numpy(), b["topk_probs"][layer, -1].numpy(),\n'
        "    )\n"
        '    print(f"layer {layer}: France p(Paris) {pa[0]:.1%}, Italy p(Rome) {pb[1]:.1%}, "\n'
        '          f"JSD of the top-{d.k} {jsd:.3f} nats")'
    ),
    new_markdown_cell(
        "**What it shows.** The two runs agree up to layer 26 (JSD near 0): the country has "
        "not reached the last position's prediction yet. From layer 27 they part: ` Paris` "
        "reaches 77% for France at the output, ` Rome` 38% for Italy, and the top-5 "
        "divergence climbs to 0.5 nats (ln 2 = 0.69 is the most two lists can differ)."
    ),
]


NOTEBOOK_CELLS = {
    "demo.ipynb": DEMO,
    "tour.ipynb": TOUR,
    "study.ipynb": STUDY,
    "views.ipynb": VIEWS,
    "interventions.ipynb": INTERVENTIONS,
    "lenses.ipynb": LENSES,
}


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
