"""KL where the model's output is not finite: undefined, while the cells keep their numbers.

A float16 overflow in the last block makes the model's output at one position non-finite.
Its final lens row is invalid; the earlier rows are finite and keep their top-k and
probabilities, but their KL has no reference: KL is NaN there and ``kl_undefined`` flags the
position. The KL color mode draws those cells hatched like invalid ones and their tooltip
says why; the other modes show their real numbers. A NaN KL anywhere else is still refused.
"""

from __future__ import annotations

import numpy as np
import pytest

from cells import OUT, rgba, shown_alpha, tip_rows
from logitlenskit.base.validate import InvalidDataError, validate_payload
from test_metrics import HEAT, KL_COLOR, L, P, metrics_payload

BROKEN = 3  # the position whose model output is not finite
WHY = "the model's output at this position is not finite"


def broken_payload() -> tuple[dict, np.ndarray, dict]:
    """The metrics payload with BROKEN's output row invalid and its KL undefined."""
    payload, probs, ref = metrics_payload()
    status = np.zeros((L, P), np.uint8)
    status[L - 1, BROKEN] = 1
    kl = ref["kl"].astype("<f4")
    kl[:, BROKEN] = np.nan
    flags = np.zeros(P, np.uint8)
    flags[BROKEN] = 1
    payload |= {
        "cell_status": status.tobytes(),
        "kl": kl.tobytes(),
        "kl_undefined": flags.tobytes(),
    }
    return validate_payload(payload), probs, ref


def hatched(wp, ci: int, p: int) -> bool:
    image = wp.cell(ci, p).evaluate("e => getComputedStyle(e).backgroundImage")
    return "repeating-linear-gradient" in image


@pytest.mark.browser
def test_kl_mode_draws_undefined_kl_hatched_and_other_modes_the_numbers(wp):
    payload, probs, ref = broken_payload()
    wp.mount(payload, color_mode="kl")
    assert wp.page.locator(f"{OUT} .llk-message.llk-error").count() == 0
    assert "llk-invalid" in wp.cell(L - 1, BROKEN).get_attribute("class")
    top = np.delete(ref["kl"][: L - 1], BROKEN, axis=1).max()
    for ci in range(L - 1):
        assert hatched(wp, ci, BROKEN), f"row {ci}: KL undefined is drawn as undefined"
        tip = tip_rows(wp, ci, BROKEN)
        assert tip["KL undefined"] == WHY and "KL to output" not in tip
        # The cell's own numbers stay: its top token and its probability.
        assert wp.cell(ci, BROKEN).text_content() == tip["top token"] != "NaN"
        top1 = float(probs[ci, BROKEN].max())
        shown = f"{top1 * 100:.{1 if top1 >= 0.1 else 2}f}%"
        assert tip["probability"] == f"{shown} \u00b7 rank 1 of 3"
    # Elsewhere KL colors as before, on a scale that leaves the undefined cells out.
    color, alpha = rgba(wp, 2, 1)
    assert color == KL_COLOR and not hatched(wp, 2, 1)
    assert alpha == pytest.approx(shown_alpha(ref["kl"][2, 1] / top), abs=0.011)
    assert tip_rows(wp, 2, 1)["KL to output"] == f"{ref['kl'][2, 1]:.2f} nats"
    # The probability mode shows those cells' real numbers, not the hatch.
    wp.set_trait("color_mode", "top1")
    for ci in range(L - 1):
        color, alpha = rgba(wp, ci, BROKEN)
        assert not hatched(wp, ci, BROKEN)
        assert alpha == pytest.approx(shown_alpha(probs[ci, BROKEN].max()), abs=0.011)
        if alpha:
            assert color == HEAT


@pytest.mark.browser
def test_the_browser_refuses_a_nan_kl_where_the_output_is_finite(wp):
    payload, _, _ = broken_payload()
    kl = np.frombuffer(payload["kl"], "<f4").copy().reshape(L, P)
    kl[2, 1] = np.nan
    wp.mount({**payload, "kl": kl.tobytes()})
    error = wp.page.locator(f"{OUT} .llk-message.llk-error").text_content()
    assert '"kl"[2][1] is NaN' in error
    # A flag where the model's output row is computed contradicts it.
    flags = np.frombuffer(payload["kl_undefined"], "u1").copy()
    flags[1] = 1
    wp.set_data({**payload, "kl_undefined": flags.tobytes()})
    error = wp.page.locator(f"{OUT} .llk-message.llk-error").text_content()
    assert '"kl_undefined"[1] is 1' in error


def test_python_refuses_a_nan_kl_where_the_output_is_finite():
    payload, _, _ = broken_payload()
    kl = np.frombuffer(payload["kl"], "<f4").copy().reshape(L, P)
    kl[2, 1] = np.nan
    with pytest.raises(InvalidDataError, match=r"kl\[2\]\[1\] is NaN"):
        validate_payload({**payload, "kl": kl.tobytes()})
    with pytest.raises(InvalidDataError, match=r"kl\[0\]\[3\] is NaN"):
        validate_payload({k: v for k, v in payload.items() if k != "kl_undefined"})


def chart_tip(wp, row: int) -> list[str]:
    """The chart's point tooltip at lens row `row`: one text per line."""
    svg = wp.page.locator(f"{OUT} .llk-chart-svg").bounding_box()
    x = float(wp.page.locator(f"{OUT} .llk-xtick").nth(row).get_attribute("x"))
    wp.page.mouse.move(svg["x"] + x, svg["y"] + 20)
    return wp.page.locator(f"{OUT} .llk-tooltip .llk-tip-row").all_text_contents()


@pytest.mark.browser
def test_the_kl_charts_hover_says_undefined_at_a_flagged_position(wp):
    payload, _, ref = broken_payload()
    wp.mount(payload, trajectory_metric="kl", pinned_rows=[1, BROKEN])
    for row in (2, L - 1):
        defined, undefined = chart_tip(wp, row)
        assert defined == f"KL to output @1: {ref['kl'][row, 1]:.3f} nats"
        assert undefined == f"KL to output @{BROKEN}: undefined: {WHY}"
    # With no rows pinned the line is the selected position's: the same words there.
    wp.set_trait("pinned_rows", [])
    wp.cell(2, BROKEN).click()
    wp.page.keyboard.press("Escape")
    assert chart_tip(wp, 2) == [f"KL to output @{BROKEN}: undefined: {WHY}"]
    # Elsewhere a value the chart lacks is still "not known", and other metrics keep theirs.
    wp.set_trait("trajectory_metric", "probability")
    assert "undefined" not in " ".join(chart_tip(wp, 2))
