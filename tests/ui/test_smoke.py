import pytest

from fake_lens import collection, payload

pytestmark = pytest.mark.browser


def test_grid_shows_top1_tokens(wp):
    data = collection(n_layers=6, n_pos=4)
    wp.mount(payload(n_layers=6, n_pos=4))
    top = data["topk"]
    for p in range(4):
        for ci in range(6):
            assert wp.cell(ci, p).text_content() == f"tok{top[ci, p, 0]}"
