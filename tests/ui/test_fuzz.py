"""Fuzz pass over the browser's decoder (frontend/decode.js) with malformed data.

Data can reach the browser without Python (a saved notebook's widget state, an exported
page, another kernel), so the decoder checks what src/logitlenskit/base/validate.py checks. Each
case mutates a valid version-3 payload or seed V2 document (a truncated buffer, a NaN, an id
out of range, a field of the wrong type, a missing field, a huge k, ...), and the shipped
bundle must:

- agree with Python on whether the data is valid: Python's ``validate_data`` is the oracle;
- for invalid data, show one readable "Cannot show this data: ..." message that names a
  field (or the whole data's size), never throw, never log a page error;
- for valid data, show the grid;
- never allocate typed arrays much larger than the data, and make no network request.

Half the payloads carry the optional exact metrics (``kl``, ``targets``, ``target_logprobs``,
``target_ranks``), half the generation fields (``position_kinds``, ``commitment``,
``entered_topk``), and some mutations break those or give sub-layer ``row_kinds``.

Seeded and deterministic: the same cases on every run.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fake_lens import collection
from harness import COUNT_ALLOCATIONS
from logitlenskit.base.formats import to_js_format, to_widget_payload
from logitlenskit.base.validate import validate_data

pytestmark = pytest.mark.browser

SEED = 9
N_V3 = 340
N_V2 = 140
OUT = "#out1"

V3_FIELDS = [
    "version",
    "model",
    "input",
    "input_ids",
    "layers",
    "k",
    "vocab",
    "topk_ids",
    "topk_probs",
    "tracked_offsets",
    "tracked_ids",
    "tracked_probs",
    "entropy",
    "num_layers",
    "run",
    "cell_status",
    "kl",
    "targets",
    "target_logprobs",
    "target_ranks",
    "position_kinds",
    "commitment",
    "entered_topk",
    "row_kinds",
]
BYTES = {
    "topk_ids": "<i4",
    "topk_probs": "<f4",
    "tracked_offsets": "<i4",
    "tracked_ids": "<i4",
    "tracked_probs": "<f4",
    "entropy": "<f4",
    "cell_status": "u1",
    "kl": "<f4",
    "target_logprobs": "<f4",
    "target_ranks": "<i4",
    "position_kinds": "u1",
    "commitment": "<i4",
    "entered_topk": "<i4",
}
V2_FIELDS = ["meta", "input", "layers", "topk", "tracked"]
# A message names a field ("topk_probs"[2][0][1] ...) or speaks of the whole data.
NAMED = re.compile(
    r'"(' + "|".join(V3_FIELDS + V2_FIELDS) + r')"'
    r"|^the data (would take|has) |^unknown data format"
)
BAD_FLOATS = [math.nan, math.inf, -math.inf, -0.5, 1.5, 7.0, 1e30, -1e-30, 3.4e38]
BAD_INTS = [-1, -(2**31), 2**31 - 1, 10**6, 29, 3]
WRONG_TYPES: list[Any] = [None, "x", 3, 2.5, True, [], {}, [1, "a"], {"a": 1}, -1]


# Feeds every case (a JSON text) to the mounted widget, as a data change from the kernel would, and reads
# what it shows. A throw from the widget is recorded, not raised, so one case names itself.
RUN_CASES = """(json) => JSON.parse(json, (k, v) => v && v.$float ? Number(v.$float) : v).map((data) => {
  const out = { threw: null, message: "", error: false, cells: 0 };
  try { window.llk.setData(data); } catch (e) { out.threw = String(e && e.stack || e); }
  const m = document.querySelector("#out1 .llk-message");
  out.message = m && !m.hidden ? m.textContent : "";
  out.error = !!m && !m.hidden && m.classList.contains("llk-error");
  out.cells = document.querySelectorAll("#out1 .llk-cell").length;
  return out;
})"""


def _wire(value: Any) -> Any:
    """The harness's form of a trait value (bytes become {"$bytes": base64}), as JSON-safe
    data: NaN and the infinities become {"$float": "NaN"}, which RUN_CASES turns back.
    """
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": str(value).replace("nan", "NaN").replace("inf", "Infinity")}
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


def _v3_base(rng: random.Random) -> dict[str, Any]:
    data = collection(n_layers=4, n_pos=3, k=3, vocab_size=12, seed=rng.randrange(1000))
    if rng.random() < 0.3:  # a flagged cell: zeros, exempt from the probability checks
        invalid = np.zeros((4, 3), bool)
        invalid[rng.randrange(4), rng.randrange(3)] = True
        data["invalid"] = invalid
    payload = to_widget_payload(data)
    if rng.random() < 0.5:
        payload.update(_metrics(payload, rng))
    if rng.random() < 0.5:
        payload.update(_generation(rng))
    return payload


def _generation(rng: random.Random) -> dict[str, Any]:
    """Valid generation fields for a 4 x 3 payload, each present or not on its own."""
    fields = {
        "position_kinds": bytes(rng.choice([0, 1, 2]) for _ in range(3)),
        "commitment": np.array([rng.randrange(-1, 4) for _ in range(3)], "<i4").tobytes(),
        "entered_topk": np.array([rng.randrange(-1, 4) for _ in range(3)], "<i4").tobytes(),
    }
    return {key: value for key, value in fields.items() if rng.random() < 0.8}


def _metrics(payload: dict, rng: random.Random) -> dict[str, Any]:
    """Valid exact metrics for a 4 x 3 payload; flagged cells get what flagged cells hold
    (NaN, and rank 0), which is exempt from the checks.
    """
    gen = np.random.default_rng(rng.randrange(1000))
    status = payload.get("cell_status")
    flagged = np.zeros((4, 3), bool) if status is None else np.frombuffer(status, "u1") != 0
    n = rng.choice([0, 1, 2, 3])
    targets = [
        {"name": f" t{t}", "ids": sorted(set(gen.integers(0, 12, 2).tolist()))} for t in range(n)
    ]
    kl = gen.uniform(0, 3, (4, 3)).astype("<f4")
    kl[-1] = 0
    kl[flagged.reshape(4, 3)] = np.nan
    logprobs = np.log(gen.uniform(0.001, 1, (n, 4, 3))).astype("<f4")
    ranks = gen.integers(1, 12, (n, 4, 3)).astype("<i4")
    logprobs[:, flagged.reshape(4, 3)] = np.nan
    ranks[:, flagged.reshape(4, 3)] = 0
    out: dict[str, Any] = {"kl": kl.tobytes()} if rng.random() < 0.8 else {}
    if rng.random() < 0.8:
        out |= {
            "targets": targets,
            "target_logprobs": logprobs.tobytes(),
            "target_ranks": ranks.tobytes(),
        }
    return out


def _array(data: dict, key: str) -> np.ndarray:
    return np.frombuffer(data[key], BYTES[key]).copy()


def _set_value(data: dict, key: str, rng: random.Random, values: list) -> str:
    a = _array(data, key)
    i = rng.randrange(len(a))
    value = rng.choice(values)
    if key == "cell_status":
        value = rng.choice([1, 2, 3, 255])
    elif key == "position_kinds":
        value = rng.choice([0, 2, 3, 255])
    elif key in ("commitment", "entered_topk"):
        value = rng.choice([-1, 3, -2, 4, 4, 2**31 - 1, -(2**31)])
    elif a.dtype.kind == "i":
        value = max(-(2**31), min(2**31 - 1, int(value)))
    with np.errstate(over="ignore"):
        a[i] = value
    data[key] = a.tobytes()
    return f"{key}[{i}] = {value!r}"


def _v3_mutations() -> list[Callable[[dict, random.Random], str]]:
    def truncate(d, rng):
        key = rng.choice(list(BYTES))
        if d.get(key) is None:
            return "no-op"
        cut = rng.randrange(1, len(d[key]) + 1)
        d[key] = d[key][:-cut]
        return f"{key} short by {cut} bytes"

    def extend(d, rng):
        key = rng.choice(list(BYTES))
        if d.get(key) is None:
            return "no-op"
        n = rng.randrange(1, 9)
        d[key] = d[key] + bytes(rng.randrange(256) for _ in range(n))
        return f"{key} long by {n} bytes"

    def bad_float(d, rng):
        key = rng.choice(["topk_probs", "tracked_probs", "entropy", "kl", "target_logprobs"])
        return _set_value(d, key, rng, BAD_FLOATS)

    def bad_int(d, rng):
        key = rng.choice(
            ["topk_ids", "tracked_ids", "tracked_offsets", "cell_status", "target_ranks"]
        )
        if key == "target_ranks" and d.get(key) is None:
            return "no-op"
        if d.get(key) is None:
            d[key] = bytes(12)
        return _set_value(d, key, rng, BAD_INTS)

    def unsorted(d, rng):
        ids = _array(d, "tracked_ids")
        off = _array(d, "tracked_offsets")
        p = rng.randrange(len(off) - 1)
        if off[p + 1] - off[p] < 2:
            return "no-op"
        i = rng.randrange(off[p], off[p + 1] - 1)
        if rng.random() < 0.5:
            ids[i], ids[i + 1] = ids[i + 1], ids[i]
        else:
            ids[i + 1] = ids[i]
        d["tracked_ids"] = ids.tobytes()
        return f"tracked_ids of position {p} unsorted at {i}"

    def untracked(d, rng):
        topk = _array(d, "topk_ids").reshape(4, 3, d["k"])
        ids, off = _array(d, "tracked_ids"), _array(d, "tracked_offsets")
        layer, p, j = rng.randrange(4), rng.randrange(3), rng.randrange(d["k"])
        others = sorted(set(range(12)) - set(ids[off[p] : off[p + 1]].tolist()))
        if not others:
            return "no-op"
        topk[layer, p, j] = rng.choice(others)
        d["topk_ids"] = topk.tobytes()
        return f"topk_ids[{layer}][{p}][{j}] not tracked"

    def wrong_type(d, rng):
        key = rng.choice(V3_FIELDS)
        d[key] = rng.choice(WRONG_TYPES)
        return f"{key} = {d[key]!r}"

    def delete(d, rng):
        key = rng.choice(V3_FIELDS)
        d.pop(key, None)
        return f"no {key}"

    def bad_json(d, rng):
        key, value = rng.choice(
            [
                ("layers", [-1, 0, 1, 2]),
                ("layers", [0, "1", 2, 3]),
                ("layers", [0, 1.5, 2, 3]),
                ("layers", [0, 1, 2, 2**53]),
                ("input", ["a", None, "c"]),
                ("input", ["a", 5, "c"]),
                ("input", "abc"),
                ("input_ids", [1, 2]),
                ("input_ids", [1, -2, 3]),
                ("k", 0),
                ("k", -1),
                ("k", 1025),
                ("k", 5000),
                ("k", 10**9),
                ("k", 2**53),
                ("k", "3"),
                ("num_layers", 0),
                ("num_layers", 2),
                ("num_layers", 2**53),
                ("num_layers", 1.5),
                ("run", -1),
                ("run", "7"),
                ("run", 1.5),
                ("model", 5),
                ("model", ["m"]),
                ("version", 2),
                ("version", "3"),
                ("version", None),
            ]
        )
        d[key] = value
        return f"{key} = {value!r}"

    def bad_vocab(d, rng):
        vocab = dict(d["vocab"])
        key = rng.choice(sorted(vocab))
        choice = rng.randrange(5)
        if choice == 0:
            vocab[key] = rng.choice([5, None, ["t"], {"t": 1}, True])
        elif choice == 1:
            del vocab[key]
        elif choice == 2:
            vocab["0" + key] = "x"
        elif choice == 3:
            vocab[rng.choice(["x", "-1", " 1", "1.0", ""])] = "x"
        else:
            vocab = rng.choice([[], ["a"], "vocab", 3])
        d["vocab"] = vocab
        return f"vocab mutation {choice}"

    def bad_offsets(d, rng):
        off = _array(d, "tracked_offsets")
        choice = rng.randrange(4)
        if choice == 0:
            off[0] = rng.choice([1, -1])
        elif choice == 1:
            off[1], off[2] = off[2], off[1] - 1
        elif choice == 2:
            off[-1] = 2**31 - 1
        else:
            off[-1] = off[-1] + 1
        d["tracked_offsets"] = off.tobytes()
        return f"tracked_offsets mutation {choice}"

    def bad_metric(d, rng):
        targets = d.get("targets")
        choice = rng.randrange(12)
        if choice == 0 and d.get("target_ranks"):
            return _set_value(d, "target_ranks", rng, [0, 0, -7, 1, 12345])
        if choice == 1:
            key = rng.choice(["target_logprobs", "target_ranks", "targets"])
            d.pop(key, None)
            return f"no {key}"
        if choice == 2:
            d["target_ranks"] = np.ones(24, "<i4").tobytes()
            d["target_logprobs"] = np.full(24, -1.0, "<f4").tobytes()
            return "metric arrays of 2 targets"
        if not targets:
            return "no-op"
        t = rng.randrange(len(targets))
        targets = [dict(x) for x in targets]
        bad_names = ["", None, 5, "a\ud800", ["x"], targets[0]["name"]]
        bad_ids = [[], [-1], "x", [1.5], [True], None, [2**53], [0, 0]]
        if choice < 6:
            targets[t]["name"] = rng.choice(bad_names)
        elif choice < 10:
            targets[t]["ids"] = rng.choice(bad_ids)
        elif choice == 10:
            targets[t] = rng.choice([None, "t", [1], {"name": "x"}, {"ids": [1]}])
        else:
            targets.append({"name": "extra", "ids": [1]})
        d["targets"] = targets
        return f"targets mutation {choice}: {targets!r}"

    def bad_generation(d, rng):
        key = rng.choice(["position_kinds", "commitment", "entered_topk"])
        if d.get(key) is None:
            d[key] = bytes(3 if key == "position_kinds" else 12)
        return _set_value(d, key, rng, BAD_INTS)

    def bad_row_kinds(d, rng):
        # Sub-layer rows: layers 0 and 1 twice each, then kinds that keep or break the pairs.
        d["layers"] = [0, 0, 1, 1]
        d["row_kinds"] = rng.choice(
            [
                [1, 0, 1, 0],
                [0, 0, 1, 0],
                [1, 0, 0, 1],
                [1, 1, 0, 0],
                [0, 1, 1, 0],
                [1, 0, 2, 0],
                [1, 0, 1],
                [1, 0, 1, 0, 0],
                [1, 0, True, 0],
                [1, 0, 1.5, 0],
                [-1, 0, 0, 0],
                "1010",
                {"0": 1},
            ]
        )
        return f"layers [0, 0, 1, 1], row_kinds = {d['row_kinds']!r}"

    def absurd(d, rng):
        d["layers"] = list(range(rng.choice([80, 200])))
        d["input"] = ["a"] * rng.choice([3, 5000])
        d["k"] = rng.choice([5, 1024])
        return f"L={len(d['layers'])} P={len(d['input'])} k={d['k']}"

    return [
        truncate,
        extend,
        bad_float,
        bad_float,
        bad_int,
        unsorted,
        untracked,
        wrong_type,
        wrong_type,
        delete,
        bad_json,
        bad_json,
        bad_vocab,
        bad_offsets,
        bad_metric,
        bad_metric,
        bad_generation,
        bad_generation,
        bad_row_kinds,
        absurd,
    ]


def _v2_mutations() -> list[Callable[[dict, random.Random], str]]:
    def pick_traj(d, rng):
        p = rng.randrange(len(d["tracked"]))
        key = rng.choice(sorted(d["tracked"][p]))
        return p, key

    def bad_prob(d, rng):
        p, key = pick_traj(d, rng)
        traj = list(d["tracked"][p][key])
        layer = rng.randrange(len(traj))
        traj[layer] = rng.choice([*BAD_FLOATS, "0.5", None, True, [0.1], {}])
        d["tracked"][p][key] = traj
        return f"tracked[{p}][{key!r}][{layer}] = {traj[layer]!r}"

    def ragged_traj(d, rng):
        p, key = pick_traj(d, rng)
        traj = list(d["tracked"][p][key])
        d["tracked"][p][key] = traj[:-1] if rng.random() < 0.5 else [*traj, 0.1]
        return f"tracked[{p}][{key!r}] ragged"

    def bad_cell(d, rng):
        layer, p = rng.randrange(len(d["topk"])), rng.randrange(len(d["input"]))
        cell = list(d["topk"][layer][p])
        choice = rng.randrange(6)
        if choice == 0:
            cell.append(cell[0])
        elif choice == 1:
            cell.pop()
        elif choice == 2:
            cell[rng.randrange(len(cell))] = rng.choice([5, None, ["t"], {}])
        elif choice == 3:
            cell[rng.randrange(len(cell))] = "not tracked anywhere"
        elif choice == 4:
            cell = []
        else:
            cell = cell + [f"w{i}" for i in range(10_000 - len(cell))]  # one huge cell
        d["topk"][layer][p] = cell
        return f"topk[{layer}][{p}] mutation {choice}"

    def huge_k(d, rng):
        width = rng.choice([1025, 2000])
        d["topk"] = [[[f"w{i}" for i in range(width)] for _ in row] for row in d["topk"]]
        return f"every cell {width} wide"

    def shapes(d, rng):
        key, value = rng.choice(
            [
                ("topk", d["topk"][:-1]),
                ("topk", "x"),
                ("topk", [d["topk"][0][:-1], *d["topk"][1:]]),
                ("tracked", d["tracked"][:-1]),
                ("tracked", {}),
                ("tracked", [[]] * len(d["input"])),
                ("input", ["a", 3, "c"]),
                ("input", None),
                ("layers", [0, -1, 2, 3]),
                ("layers", "0123"),
                ("layers", []),
                ("meta", {"version": 2, "model": 5}),
                ("meta", {"version": "2"}),
                ("meta", None),
            ]
        )
        d[key] = value
        return f"{key} reshaped"

    def wrong_type(d, rng):
        key = rng.choice(V2_FIELDS)
        d[key] = rng.choice(WRONG_TYPES)
        return f"{key} = {d[key]!r}"

    def delete(d, rng):
        key = rng.choice(V2_FIELDS)
        d.pop(key, None)
        return f"no {key}"

    return [bad_prob, bad_prob, ragged_traj, bad_cell, bad_cell, huge_k, shapes, wrong_type, delete]


def _cases() -> list[tuple[str, dict[str, Any], bool]]:
    """(description, data, whether Python accepts it) for every case, deterministically."""
    rng = random.Random(SEED)
    cases = []
    v3, v2 = _v3_mutations(), _v2_mutations()
    for n in range(N_V3 + N_V2):
        if n < N_V3:
            data = _v3_base(rng)
            steps = [rng.choice(v3) for _ in range(rng.choice([1, 1, 1, 2]))]
        else:
            data = to_js_format(
                collection(n_layers=4, n_pos=3, k=3, vocab_size=12, seed=rng.randrange(1000))
            )
            steps = [rng.choice(v2)]
        done = []
        for step in steps:
            try:
                done.append(step(data, rng))
            except (ValueError, TypeError, KeyError, AttributeError, IndexError):
                done.append("skipped")  # an earlier step left nothing this one can mutate
        what = f"case {n}: " + "; ".join(done)
        try:
            validate_data(data)
            valid = True
        except Exception:
            valid = False
        cases.append((what, data, valid))
    return cases


def test_the_decoder_refuses_malformed_data_readably_as_python_does(wp):
    requests: list[str] = []
    wp.page.on("request", lambda r: requests.append(r.url))
    wp.mount(
        to_widget_payload(collection(n_layers=4, n_pos=3, k=3, vocab_size=12)),
        pins=[{"ids": [1], "color": "#e6194b"}],
        pinned_rows=[0, 2],
    )
    wp.page.evaluate(COUNT_ALLOCATIONS)
    cases = _cases()
    assert sum(valid for _, _, valid in cases) < len(cases) // 4  # mostly malformed
    # One JSON text: Playwright's own argument encoding takes seconds for this many values.
    wire = json.dumps([_wire(data) for _, data, _ in cases], allow_nan=False)
    results = wp.page.evaluate(RUN_CASES, wire)
    problems = []
    for (what, _, valid), seen in zip(cases, results, strict=True):
        message = seen["message"]
        if seen["threw"]:
            problems.append(f"{what}: threw {seen['threw']}")
        elif valid and (seen["error"] or seen["cells"] == 0):
            problems.append(f"{what}: Python accepts it, the browser shows {message!r}")
        elif not valid and not seen["error"]:
            problems.append(f"{what}: Python refuses it, the browser shows it")
        elif not valid:
            text = message.removeprefix("Cannot show this data: ")
            if (
                text == message
                or not NAMED.search(text)
                or len(text) > 400
                or re.search(r"TypeError|undefined|\[object|NaN undefined", text)
            ):
                problems.append(f"{what}: unreadable message {message!r}")
    assert not problems, f"{len(problems)} of {len(cases)} cases:\n" + "\n".join(problems[:20])
    assert wp.page.evaluate("window.llkMaxAlloc") <= 100_000
    base = wp.page.evaluate("location.origin")
    assert all(
        u.startswith(("blob:", "data:"))
        or u in (f"{base}/", f"{base}/widget.js", f"{base}/widget.css")
        for u in requests
    ), requests
