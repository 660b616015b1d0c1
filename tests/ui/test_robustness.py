"""Untrusted tokens, cleanup, several outputs, malformed data, V2 input, binary offsets."""

from __future__ import annotations

import pytest
from fake_lens import collection, payload

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
    wp.mount(payload(vocab=vocab, input_tokens=[EVIL[0], EVIL[1], EVIL[2], "x"]),
             title=EVIL[0], error=EVIL[1])
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
        "dom": 0, "model": 0, "observers": 0, "timers": 0, "frames": 0}
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
    ids[off[0]:off[1]] = ids[off[0]:off[1]][::-1]
    data["tracked_ids"] = ids.tobytes()
    return data


def _ragged_v2() -> dict:
    from logitlenskit.formats import to_js_format

    data = to_js_format(collection())
    first = next(iter(data["tracked"][1]))
    data["tracked"][1][first] = data["tracked"][1][first][:-1]
    return data


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
    from logitlenskit.formats import to_js_format

    data = collection(k=3)
    wp.mount(to_js_format(data))
    assert wp.cell(3, 2).text_content() == f"tok{data['topk'][3, 2, 0]}"
    wp.cell(3, 2).click()
    probs = wp.page.locator(f"{OUT} .llk-popup-row .llk-prob").all_text_contents()
    for j, text in enumerate(probs):
        assert float(text.rstrip("%")) / 100 == pytest.approx(float(data["topk_probs"][3, 2, j]), rel=0.01)


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
    from logitlenskit.formats import to_js_format

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
        assert float(text.rstrip("%")) / 100 == pytest.approx(float(data["topk_probs"][5, 3, j]), rel=0.01)
