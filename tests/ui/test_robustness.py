"""Untrusted tokens, cleanup, several outputs, malformed data, V2 input, binary offsets,
UI state that bypasses Python, memory sized by the data, readable strong cells.
"""

from __future__ import annotations

import pytest

from fake_lens import collection, payload
from harness import COUNT_ALLOCATIONS

pytestmark = pytest.mark.browser

OUT = "#out1"
EVIL = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>", "<b>bold</b>"]


def shown(token: str) -> str:
    """A token as the grid shows it: spaces made visible."""
    return token.replace(" ", "\u2423")


def test_html_in_tokens_and_titles_is_text_and_runs_nothing(wp):
    vocab = {i: f"tok{i}" for i in range(30)}
    data = collection(vocab=vocab)
    top = int(data["topk"][-1, 0, 0])
    vocab[top] = EVIL[0]
    vocab[int(data["topk"][-1, 1, 0])] = EVIL[1]
    wp.mount(
        payload(vocab=vocab, input_tokens=[EVIL[0], EVIL[1], EVIL[2], "x"]),
        title=EVIL[0],
        error=EVIL[1],
    )
    page = wp.page
    page.locator(f"{OUT} .llk-input").first.click()  # pins row 0 and auto-pins EVIL[0]
    wp.cell(5, 0).click()
    page.locator(f"{OUT} .llk-popup-row").first.hover()
    assert page.locator(f"{OUT} .llk-popup-token").first.text_content() == shown(EVIL[0])
    assert page.locator(f"{OUT} .llk-legend-pin .llk-legend-label").text_content() == shown(EVIL[0])
    assert page.locator(f"{OUT} .llk-input-text").nth(1).text_content() == EVIL[1]
    assert page.locator(f"{OUT} .llk-title").input_value() == EVIL[0]
    assert page.locator(f"{OUT} .llk-py-error").text_content() == EVIL[1]
    assert wp.cell(5, 0).text_content() == shown(EVIL[0])
    assert page.locator(f"{OUT} img, {OUT} script, {OUT} b").count() == 0
    page.wait_for_timeout(200)  # an injected onerror would fire by now; the fixture fails on it


def test_cleanup_removes_every_listener_observer_and_timer(wp):
    wp.mount(payload(), pins=[{"ids": [1], "color": "#e6194b"}])
    page = wp.page
    assert page.evaluate("window.llk.counts()")["dom"] > 0
    wp.cell(1, 1).hover()
    wp.cell(1, 1).click()
    page.locator(f"{OUT} .llk-popup-row").first.click()
    box = page.locator(f"{OUT} .llk-resize-chart").bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 3)
    page.mouse.down()
    page.mouse.move(box["x"] + 5, box["y"] + 40)  # cleanup in the middle of a drag
    page.evaluate("window.llk.cleanup()")
    page.mouse.up()
    assert page.evaluate("window.llk.counts()") == {
        "dom": 0,
        "model": 0,
        "observers": 0,
        "timers": 0,
        "frames": 0,
    }
    assert page.locator(f"{OUT} *").count() == 0


def test_same_model_in_two_outputs(wp):
    wp.mount(payload(), outputs=("out1", "out2"))
    page = wp.page
    wp.cell(2, 1).click()
    page.locator(f"{OUT} .llk-popup-row").first.click()
    assert page.locator("#out2 .llk-legend-pin").count() == 1
    assert page.locator("#out2 .llk-popup").is_hidden()  # view state stays per output
    assert wp.trait("selected_cell") == {"layer": 2, "position": 1}
    wp.cell(3, 0, out="#out2").click()
    assert wp.trait("selected_cell") == {"layer": 3, "position": 0}
    # Another output opens a popup while out2's is still open; out2's closing keeps it.
    wp.set_trait("selected_cell", {"layer": 1, "position": 2})
    page.keyboard.press("Escape")
    assert page.locator("#out2 .llk-popup").is_hidden()
    assert wp.trait("selected_cell") == {"layer": 1, "position": 2}
    page.evaluate("window.llk.cleanupOne(0)")
    assert page.locator("#out1 *").count() == 0
    wp.cell(2, 1, out="#out2").click()
    assert page.locator("#out2 .llk-popup").is_visible()
    page.locator("#out2 .llk-remove-pin").click()
    assert wp.trait("pins") == []


def _truncated(key: str) -> dict:
    data = payload()
    data[key] = data[key][:-4]
    return data


def _without(key: str) -> dict:
    data = payload()
    del data[key]
    return data


def _decreasing_offsets() -> dict:
    import numpy as np

    data = payload()
    off = np.frombuffer(data["tracked_offsets"], "<i4").copy()
    off[1], off[2] = off[2], off[1]
    data["tracked_offsets"] = off.tobytes()
    return data


def _unsorted_tracked_ids() -> dict:
    import numpy as np

    data = payload()
    off = np.frombuffer(data["tracked_offsets"], "<i4")
    ids = np.frombuffer(data["tracked_ids"], "<i4").copy()
    ids[off[0] : off[1]] = ids[off[0] : off[1]][::-1]
    data["tracked_ids"] = ids.tobytes()
    return data


def _ragged_v2() -> dict:
    from logitlenskit.base.formats import to_js_format

    data = to_js_format(collection())
    first = next(iter(data["tracked"][1]))
    data["tracked"][1][first] = data["tracked"][1][first][:-1]
    return data


def _with(key: str, index: int, value: float | int) -> dict:
    """A payload whose binary field `key` holds `value` at flat `index` (bypassing Python)."""
    import numpy as np

    data = payload()
    dtype = "<f4" if key in ("topk_probs", "tracked_probs", "entropy") else "<i4"
    array = np.frombuffer(data[key], dtype).copy()
    array[index] = value
    data[key] = array.tobytes()
    return data


def _untracked_topk() -> dict:
    """topk_ids[0][1][1] names a token that has no trajectory at position 1."""
    import numpy as np

    data = payload()
    off = np.frombuffer(data["tracked_offsets"], "<i4")
    tracked = set(np.frombuffer(data["tracked_ids"], "<i4")[off[1] : off[2]].tolist())
    missing = min(set(range(30)) - tracked)
    return _with("topk_ids", 4, missing)  # [0][1][1] of [6, 4, 3]


def _v2(mutate) -> dict:
    from logitlenskit.base.formats import to_js_format

    data = to_js_format(collection())
    mutate(data)
    return data


def _first_trajectory(data: dict, pos: int = 1) -> list:
    return data["tracked"][pos][next(iter(data["tracked"][pos]))]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _truncated("topk_ids"), '"topk_ids" has 284 bytes, expected 288'),
        (lambda: _truncated("tracked_probs"), '"tracked_probs" has'),
        (lambda: _without("input"), '"input" is missing'),
        (lambda: _without("topk_probs"), '"topk_probs" is missing'),
        (_decreasing_offsets, '"tracked_offsets" decreases'),
        (_unsorted_tracked_ids, '"tracked_ids" of position 0 must be sorted and distinct'),
        (lambda: {**payload(), "layers": [0, 1, "x"]}, '"layers"[2] is not an integer'),
        (lambda: {"version": 7}, "unknown data format"),
        (_ragged_v2, "must have 6 values"),
        # Numbers Python would refuse (docs/data-format.md, "What is validated").
        (
            lambda: _with("topk_probs", 2 * 12 + 4, float("nan")),
            '"topk_probs"[2][1][1] is NaN; probabilities must be finite numbers in [0, 1]',
        ),
        (lambda: _with("topk_probs", 5, 7.0), '"topk_probs"[0][1][2] is 7; probabilities must'),
        (
            lambda: _with("tracked_probs", 3, float("inf")),
            '"tracked_probs"[0][3] (position 0, token ',
        ),
        (lambda: _with("tracked_probs", 7, -0.25), "is -0.25; probabilities must"),
        (lambda: _with("entropy", 2, float("nan")), '"entropy"[0][2] is NaN; entropies must'),
        (lambda: _with("tracked_ids", 0, -3), '"tracked_ids"[0] (position 0) is -3'),
        (lambda: _with("topk_ids", 0, -1), '"topk_ids"[0][0][0] is -1; token ids must be >= 0'),
        (_untracked_topk, '"topk_ids"[0][1][1] is token '),
        (lambda: {**payload(), "k": 10_000}, '"k" is 10000: at most 1024 predictions per cell'),
        (
            lambda: {**payload(), "vocab": {**payload()["vocab"], "3": 3}},
            '"vocab"["3"] is not a string (got 3)',
        ),
        (lambda: {**payload(), "vocab": []}, '"vocab" is missing or not an object'),
        (lambda: {**payload(), "num_layers": 3}, '"layers" names layer 3, but "num_layers" is 3'),
        (lambda: {**payload(), "run": -1}, '"run" must be an integer >= 0 (got -1)'),
        (
            lambda: {**payload(), "layers": list(range(200)), "input": ["a"] * 5000, "k": 1024},
            "the data would take 8,197 MB in the browser",
        ),
        (
            lambda: _v2(lambda d: _first_trajectory(d).__setitem__(2, float("nan"))),
            '"][2] is NaN; probabilities must be finite numbers in [0, 1]',
        ),
        (
            lambda: _v2(lambda d: _first_trajectory(d).__setitem__(0, "0.5")),
            '"][0] is "0.5"; probabilities must',
        ),
        (
            lambda: _v2(lambda d: _first_trajectory(d).__setitem__(5, 7.0)),
            '"][5] is 7; probabilities',
        ),
        (
            lambda: _v2(lambda d: d["topk"][2][1].__setitem__(0, "nowhere")),
            '"topk"[2][1][0] is "nowhere", which has no trajectory in "tracked"[1]',
        ),
        (
            lambda: _v2(lambda d: d["topk"][2][1].append(d["topk"][2][1][0])),
            '"topk"[2][1] has 4 tokens but "topk"[0][0] has 3',
        ),
    ],
)
def test_malformed_data_shows_a_readable_error(wp, make, message):
    wp.mount(make())
    error = wp.page.locator(f"{OUT} .llk-message.llk-error")
    assert error.is_visible()
    assert error.text_content().startswith("Cannot show this data: ")
    assert message in error.text_content()
    wp.set_data(payload())  # good data afterwards recovers the view
    assert error.is_hidden()
    assert wp.page.locator(f"{OUT} .llk-cell").count() == 24


def test_empty_data_says_so(wp):
    wp.mount({})
    assert wp.page.locator(f"{OUT} .llk-message").text_content() == "No data yet."


def test_v2_json_input(wp):
    from logitlenskit.base.formats import to_js_format

    data = collection(k=3)
    wp.mount(to_js_format(data))
    assert wp.cell(3, 2).text_content() == f"tok{data['topk'][3, 2, 0]}"
    wp.cell(3, 2).click()
    probs = wp.page.locator(f"{OUT} .llk-popup-row .llk-prob").all_text_contents()
    for j, text in enumerate(probs):
        assert float(text.rstrip("%")) / 100 == pytest.approx(
            float(data["topk_probs"][3, 2, j]), rel=0.01
        )


def test_ids_that_decode_to_the_same_string_stay_apart(wp):
    """Two byte-fragment ids both decoding to U+FFFD keep their own probabilities."""
    data = collection(k=3)
    a, b = (int(i) for i in data["topk"][-1, 0, :2])
    vocab = dict(data["vocab"])
    vocab[a] = vocab[b] = "\ufffd"
    wp.mount(payload(k=3, vocab=vocab))
    wp.cell(5, 0).click()
    rows = wp.page.locator(f"{OUT} .llk-popup-row")
    assert [rows.nth(j).get_attribute("data-id") for j in (0, 1)] == [str(a), str(b)]
    assert rows.nth(0).locator(".llk-popup-token").text_content() == "\ufffd"
    assert "llk-frag" in rows.nth(1).locator(".llk-popup-token").get_attribute("class")
    probs = [float(t.rstrip("%")) / 100 for t in rows.locator(".llk-prob").all_text_contents()]
    assert probs[:2] == pytest.approx([float(x) for x in data["topk_probs"][-1, 0, :2]], rel=0.01)


def test_v2_json_keeps_ids_that_share_a_string_apart(wp):
    """to_js_format's "<string>#<id>" keys come back as two tokens, both shown as the string."""
    from logitlenskit.base.formats import to_js_format

    data = collection(k=3)
    a, b = (int(i) for i in data["topk"][-1, 0, :2])
    data["vocab"][a] = data["vocab"][b] = "\ufffd"
    wp.mount(to_js_format(data))
    wp.cell(5, 0).click()
    rows = wp.page.locator(f"{OUT} .llk-popup-row")
    assert rows.nth(0).get_attribute("data-id") != rows.nth(1).get_attribute("data-id")
    labels = rows.locator(".llk-popup-token").all_text_contents()
    assert labels[:2] == ["\ufffd", "\ufffd"]
    probs = [float(t.rstrip("%")) / 100 for t in rows.locator(".llk-prob").all_text_contents()]
    assert probs[:2] == pytest.approx([float(x) for x in data["topk_probs"][-1, 0, :2]], rel=0.01)


@pytest.mark.parametrize("offset", [0, 3, 8])
def test_binary_fields_honour_byte_offset(wp, offset):
    data = collection(k=3)
    wp.mount(payload(k=3), offset=offset)
    assert wp.page.evaluate("window.llk.model.get('data').topk_ids.byteOffset") == offset
    for p in range(4):
        assert wp.cell(5, p).text_content() == f"tok{data['topk'][5, p, 0]}"
    wp.cell(5, 3).click()
    probs = wp.page.locator(f"{OUT} .llk-popup-row .llk-prob").all_text_contents()
    for j, text in enumerate(probs):
        assert float(text.rstrip("%")) / 100 == pytest.approx(
            float(data["topk_probs"][5, 3, j]), rel=0.01
        )


def test_flagged_cells_are_exempt_from_the_probability_checks(wp):
    """Cells marked invalid or pending carry no numbers: whatever they hold is not checked."""
    import numpy as np

    data = collection()
    invalid = np.zeros((6, 4), bool)
    invalid[2, 1] = True
    data["invalid"] = invalid
    from logitlenskit.base.formats import to_widget_payload

    sent = to_widget_payload(data)
    probs = np.frombuffer(sent["topk_probs"], "<f4").copy().reshape(6, 4, 3)
    probs[2, 1] = [np.nan, np.inf, -5.0]
    ids = np.frombuffer(sent["topk_ids"], "<i4").copy().reshape(6, 4, 3)
    ids[2, 1] = [-1, 10_000, 7]
    entropy = np.frombuffer(sent["entropy"], "<f4").copy().reshape(6, 4)
    entropy[2, 1] = np.nan
    sent.update(topk_probs=probs.tobytes(), topk_ids=ids.tobytes(), entropy=entropy.tobytes())
    wp.mount(sent)
    assert wp.page.locator(f"{OUT} .llk-message").is_hidden()
    assert wp.cell(2, 1).text_content() == "NaN"
    assert "llk-invalid" in wp.cell(2, 1).get_attribute("class")
    # The same numbers in a computed cell are refused.
    status = np.frombuffer(sent["cell_status"], "u1").copy()
    status[:] = 0
    wp.set_data({**sent, "cell_status": status.tobytes()})
    error = wp.page.locator(f"{OUT} .llk-message.llk-error").text_content()
    assert '"entropy"[2][1] is NaN' in error


def test_one_wide_v2_cell_does_not_size_the_browsers_memory(wp):
    """One 10,000-wide top-k cell once made the browser allocate L·P·10,000 slots (over 1 GB
    at 30 layers and 500 positions); now the data is refused before anything is allocated.
    """
    from logitlenskit.base.formats import to_js_format

    data = to_js_format(collection(n_layers=30, n_pos=50, k=3))
    data["topk"][7][11] = data["topk"][7][11] + [f"w{i}" for i in range(10_000 - 3)]
    wp.page.evaluate(COUNT_ALLOCATIONS)
    wp.mount(data)
    error = wp.page.locator(f"{OUT} .llk-message.llk-error").text_content()
    assert '"topk"[7][11] has 10000 tokens but "topk"[0][0] has 3' in error
    assert wp.page.evaluate("window.llkMaxAlloc") < 10_000
    # A uniformly wide document is refused by its width, also before allocating.
    wide = to_js_format(collection(n_layers=2, n_pos=2, k=3))
    wide["topk"] = [[[f"w{i}" for i in range(2000)] for _ in row] for row in wide["topk"]]
    wp.set_data(wide)
    error = wp.page.locator(f"{OUT} .llk-message.llk-error").text_content()
    assert '"topk"[0][0] lists 2000 tokens: at most 1024 predictions per cell' in error
    assert wp.page.evaluate("window.llkMaxAlloc") < 10_000
    # Valid data allocates what it holds: L·P·k top-k slots, T·L trajectory values.
    valid = collection(n_layers=30, n_pos=50, k=3)
    wp.set_data(to_js_format(valid))
    assert wp.page.locator(f"{OUT} .llk-message").is_hidden()
    n_tracked = sum(len(t) for t in valid["tracked"])
    assert wp.page.evaluate("window.llkMaxAlloc") == max(30 * 50 * 3, n_tracked * 30)


LEAK = "http://127.0.0.1:9/leak.png"


@pytest.mark.parametrize(
    ("trait", "bad"),
    [
        ("pins", "not a list"),
        ("pins", [{"color": "#e6194b"}]),
        ("pins", [{"ids": ["x"], "color": "#e6194b"}]),
        ("pins", [{"ids": [1], "color": f"url({LEAK})"}]),
        ("pins", [{"ids": [1], "color": "#e6194b\n"}]),
        ("pins", [[1, "#e6194b"]]),
        ("pinned_rows", [-1]),
        ("pinned_rows", [1.5]),
        ("pinned_rows", "0"),
        ("heat_color", f"url({LEAK})"),
        ("heat_color", "red"),
        ("entropy_color", "#12345"),
        ("column_width", "wide"),
        ("grid_height", -5),
        ("font_size", 1e9),
        ("table_width", 50),
        ("chart_height", [160]),
        ("color_mode", "rainbow"),
        ("dark_mode", "dim"),
        ("chart_scale", 3),
        ("trajectory_metric", {"x": 1}),
        ("x_zoom", [5, 2]),
        ("x_zoom", "all"),
        ("color_token", -3),
        ("color_group", "x"),
        ("selected_cell", "x"),
        ("title", 5),
    ],
)
def test_invalid_ui_state_falls_back_to_the_default_with_one_message(wp, trait, bad):
    """UI state that never passed Python (a saved notebook's widget state) cannot break the
    view or load a URL: the trait's default is used and one readable message names it.
    """
    from logitlenskit.live.widget import LogitLensWidget

    warnings: list[str] = []
    requests: list[str] = []
    wp.page.on("console", lambda m: m.type == "warning" and warnings.append(m.text))
    wp.page.on("request", lambda r: requests.append(r.url))
    data = collection()
    top = int(data["topk"][-1, 3, 0])  # tracked at the position the chart follows
    pins = [{"ids": [top], "color": "#3cb44b"}]
    traits = {"pins": pins, "pinned_rows": [1], trait: bad}
    if trait == "pins":
        traits[trait] = (
            [dict(p, ids=[top]) if isinstance(p, dict) and p.get("ids") == [1] else p for p in bad]
            if isinstance(bad, list)
            else bad
        )
    wp.mount(payload(), **traits)
    page = wp.page
    assert page.locator(f"{OUT} .llk-cell").count() == 24
    box = page.locator(f"{OUT} .llk-chart-svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)  # tooltip
    wp.cell(5, 3).hover()
    page.wait_for_timeout(100)
    assert not [u for u in requests if "leak" in u], requests
    mine = [w for w in warnings if f"widget's {trait} " in w]
    assert len(mine) == 1, warnings
    assert "Using " in mine[0]
    default = LogitLensWidget().get_state()[trait]
    cells = page.locator(f"{OUT} .llk-cell.llk-strong")
    if trait == "heat_color":  # the default color is what paints the cells
        r, g, b = (int(default[i : i + 2], 16) for i in (1, 3, 5))
        assert f"rgba({r}, {g}, {b}" in cells.first.evaluate(
            "e => getComputedStyle(e).backgroundColor"
        )
    # Good state afterwards is used.
    if trait == "pins":
        wp.set_trait("pins", pins)
        assert page.locator(f"{OUT} .llk-legend-pin").count() == 1


def _contrast(page, selector: str) -> float:
    """WCAG contrast of an element's text over what is painted behind it."""
    return page.locator(selector).first.evaluate("""(e) => {
      const ctx = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
      const rgba = (css) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = '#000'; ctx.fillStyle = css;
        ctx.fillRect(0, 0, 1, 1); const d = ctx.getImageData(0, 0, 1, 1).data; return [d[0], d[1], d[2], d[3] / 255]; };
      const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3])).concat([1]);
      const layers = [];
      for (let n = e; n; n = n.parentElement) {
        const c = rgba(getComputedStyle(n).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      const bg = layers.reverse().reduce((acc, c) => over(c, acc), [255, 255, 255, 1]);
      const fg = over(rgba(getComputedStyle(e).color), bg);
      const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
        .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      return (hi + 0.05) / (lo + 0.05);
    }""")


@pytest.mark.parametrize("heat_color", ["#2b6cd4", "#000075", "#ffe119", "#808080"])
def test_strong_cells_have_readable_text_in_both_themes(wp, heat_color):
    """Strong heat cells pick black or white text from their own background, per theme; a
    theme change needs no re-render.
    """
    import numpy as np

    from logitlenskit.base.formats import to_widget_payload

    data = collection()
    for p, tracked in enumerate(data["tracked"]):  # every cell strong, from 0.62 to 1
        data["probs"][p][:] = 0
        for layer, top in enumerate(np.linspace(0.62, 1.0, 6)):
            data["topk_probs"][layer, p] = [top, 0, 0]
            data["probs"][p][layer, list(tracked).index(data["topk"][layer, p, 0])] = top

    wp.mount(to_widget_payload(data), heat_color=heat_color, dark_mode="light")
    for theme in ("light", "dark", "light"):
        wp.set_trait("dark_mode", theme)
        for ci in range(6):
            cell = f'{OUT} .llk-row[data-p="2"] .llk-cell[data-ci="{ci}"]'
            assert "llk-strong" in wp.page.locator(cell).get_attribute("class")
            ratio = _contrast(wp.page, cell)
            assert ratio >= 4.5, (theme, ci, heat_color, ratio)
