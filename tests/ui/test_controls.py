"""The run bar's k and layers boxes never show a value that was refused (issue 23 item 18).

A box shows its trait's value after a refusal, whether the view refused the text (not a
whole number, no such layer) or Python did (it puts the old value back and says why in
``error``); the refusal's message goes once a later run succeeds.
"""

from __future__ import annotations

import pytest

from cells import OUT
from fake_lens import payload

pytestmark = pytest.mark.browser


def controls(wp):
    page = wp.page
    return (
        page.locator(f"{OUT} .llk-k"),
        page.locator(f"{OUT} .llk-layers"),
        page.locator(f"{OUT} .llk-options-msg"),
    )


def mount(wp, **traits):
    wp.mount({**payload(), "num_layers": 6}, editable_prompt=True, prompt="x", **traits)


def test_a_k_the_view_refuses_leaves_the_box_at_the_traits_value(wp):
    mount(wp, k=5, layers=None)
    k, _, msg = controls(wp)
    for bad in ("0", "2.5", "100000", "-3"):
        k.fill(bad)
        k.press("Enter")
        assert msg.is_visible() and "k must be a whole number" in msg.text_content()
        assert f'"{bad}"' in msg.text_content(), "the message names what was refused"
        assert wp.trait("k") == 5
        assert k.input_value() == "5", f"the box keeps the refused {bad!r}"
    # Leaving the box (change on blur) refuses the same way.
    k.fill("0")
    wp.page.locator(f"{OUT} .llk-layers").focus()
    assert k.input_value() == "5"


def test_a_layers_spec_the_view_refuses_leaves_the_box_at_the_traits_value(wp):
    mount(wp, k=5, layers=[0, 2, 5])
    _, layers, msg = controls(wp)
    for bad in ("abc", "7", "0:9:0"):
        layers.fill(bad)
        layers.press("Enter")
        assert msg.text_content().startswith("layers: ") and f'"{bad}"' in msg.text_content()
        assert wp.trait("layers") == [0, 2, 5]
        assert layers.input_value() == "0,2,5"


def test_a_value_python_refuses_shows_its_old_value_and_the_error_clears_after_a_run(wp):
    mount(wp, k=5, layers=None)
    k, layers, msg = controls(wp)
    # The view sends k = 12; Python refuses it: the old value comes back with the reason.
    k.fill("12")
    k.press("Enter")
    assert wp.trait("k") == 12
    wp.set_trait("error", "k = 12 refused: too large for this prompt; k stays 5")
    wp.set_trait("k", 5)
    assert k.input_value() == "5"
    error = wp.page.locator(f"{OUT} .llk-py-error")
    assert error.is_visible()
    # A layers spec the view refuses, then a run that succeeds: both messages go.
    layers.fill("0,,1")
    layers.press("Enter")
    assert msg.is_visible()
    wp.set_trait("busy", True)
    wp.set_data({**payload(seed=3), "num_layers": 6})
    wp.set_trait("error", "")
    wp.set_trait("busy", False)
    assert msg.is_hidden(), "a layers error stays after a later run succeeded"
    assert error.is_hidden()
    assert layers.input_value() == "all" and k.input_value() == "5"


def test_a_run_that_fails_keeps_the_message(wp):
    mount(wp, k=5, layers=None)
    _, layers, msg = controls(wp)
    layers.fill("abc")
    layers.press("Enter")
    wp.set_trait("busy", True)
    wp.set_trait("error", "RuntimeError: out of memory")
    wp.set_trait("busy", False)
    assert msg.is_visible() and msg.text_content().startswith("layers: ")
