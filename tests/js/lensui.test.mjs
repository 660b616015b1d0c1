// Lenses beyond the logit lens (issue 21), the widget's pure part: the payload's `lens` and
// `lens_reliability` checks (through decode, as data arrives), the strip's color scale, the
// words the views show, and the `lens_choices` trait's check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, DecodeError } from "../../frontend/decode.js";
import {
  decodeLensName,
  decodeReliability,
  LENS_NAME_MAX,
  lensBadge,
  lensChoices,
  lensFacts,
  LOGIT_LENS,
  RELIABILITY_KL_MAX,
  reliabilityColor,
  reliabilityLevel,
  reliabilityText,
  sideLabels,
} from "../../frontend/lensinfo.js";
import { payload } from "./payload.mjs";

/** The small payload has L = 2 lens rows. */
const REL = { kl: [1.62, null], top1: [0.31, null], note: "held-out text, 2,048 tokens" };

/** The message decode throws for `patch`, or "" when the data is accepted. */
function refusal(patch) {
  try {
    decode(payload({ patch }));
    return "";
  } catch (err) {
    assert.ok(err instanceof DecodeError, `a DecodeError, not ${err}`);
    return err.message;
  }
}

test("data without a lens is the logit lens's, with no reliability", () => {
  const lens = decode(payload());
  assert.equal(lens.lensName, LOGIT_LENS);
  assert.equal(lens.lensNamed, false, "the data did not say");
  assert.equal(lens.reliability, null);
  assert.equal(decodeLensName(undefined), undefined);
});

test("a named logit lens is named", () => {
  const lens = decode(payload({ patch: { lens: LOGIT_LENS } }));
  assert.equal(lens.lensName, LOGIT_LENS);
  assert.equal(lens.lensNamed, true);
});

test("the payload's lens name and reliability reach the Lens as sent", () => {
  const lens = decode(payload({ patch: { lens: "tuned lens", lens_reliability: REL } }));
  assert.equal(lens.lensName, "tuned lens");
  assert.equal(lens.lensNamed, true);
  assert.deepEqual(lens.reliability, REL);
  // The note may be left out: it is then empty.
  const bare = decode(payload({ patch: { lens_reliability: { kl: [0, 3], top1: [1, 0] } } }));
  assert.deepEqual(bare.reliability, { kl: [0, 3], top1: [1, 0], note: "" });
});

test("a malformed lens name is refused with the field named", () => {
  assert.match(refusal({ lens: 3 }), /"lens" is 3/);
  assert.match(refusal({ lens: "" }), /"lens" must be a name of 1 to 100/);
  assert.match(refusal({ lens: "x".repeat(LENS_NAME_MAX + 1) }), /"lens" must be a name/);
  assert.match(refusal({ lens: "bad \ud800 text" }), /"lens"/);
  assert.equal(decodeLensName("x".repeat(LENS_NAME_MAX)).length, LENS_NAME_MAX);
});

test("malformed reliability is refused with the field and entry named, never thrown raw", () => {
  const rel = (o) => ({ lens_reliability: { ...REL, ...o } });
  const cases = [
    [{ lens_reliability: [1, 2] }, /"lens_reliability" is .*not \{kl/],
    [{ lens_reliability: "good" }, /"lens_reliability" is/],
    [rel({ kl: [1] }), /"lens_reliability"\.kl has 1 entries for 2 lens rows/],
    [rel({ top1: [0.1, 0.2, 0.3] }), /"lens_reliability"\.top1 has 3 entries for 2 lens rows/],
    [rel({ kl: [-0.5, 1] }), /"lens_reliability"\.kl\[0\] is -0\.5; a KL divergence/],
    [rel({ kl: [1, Number.NaN] }), /"lens_reliability"\.kl\[1\] is NaN/],
    [rel({ kl: [1, Number.POSITIVE_INFINITY] }), /"lens_reliability"\.kl\[1\] is Infinity/],
    [rel({ kl: [1, "2"] }), /"lens_reliability"\.kl\[1\] is .*not a number or null/],
    [rel({ top1: [1.2, 0] }), /"lens_reliability"\.top1\[0\] is 1\.2; a top-1 agreement/],
    [rel({ top1: [-0.1, 0] }), /"lens_reliability"\.top1\[0\] is -0\.1/],
    [rel({ top1: [Number.NaN, 0] }), /"lens_reliability"\.top1\[0\] is NaN/],
    [rel({ kl: null }), /"lens_reliability"\.kl is .*not a list/],
    [rel({ note: 5 }), /"lens_reliability"\.note is 5, not text/],
  ];
  for (const [patch, pattern] of cases) assert.match(refusal(patch), pattern);
  // A float's rounding just below 0 is a KL of 0, as the payload's own KL allows.
  assert.deepEqual(decodeReliability({ kl: [-1e-7, 0], top1: [0, 1] }, 2).kl, [0, 0]);
});

test("the strip's scale: 0 at KL 0, 1 from RELIABILITY_KL_MAX on, increasing, null unmeasured", () => {
  assert.equal(reliabilityLevel(0), 0);
  assert.equal(reliabilityLevel(RELIABILITY_KL_MAX), 1);
  assert.equal(reliabilityLevel(1000), 1);
  assert.equal(reliabilityLevel(null), null);
  let last = -1;
  for (let kl = 0; kl <= RELIABILITY_KL_MAX; kl += 0.25) {
    const t = reliabilityLevel(kl);
    assert.ok(t > last, `level increases with KL (${kl})`);
    last = t;
  }
  // Log-like: 1.6 nats (a fitted lens) reads far from 20 (the logit lens's middle layers).
  assert.ok(reliabilityLevel(1.6) < 0.4 && reliabilityLevel(1.6) > 0.2);
});

test("the strip's colors are opaque hex, darker as KL grows, none where unmeasured", () => {
  const luminance = (hex) => {
    const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16) / 255);
    const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  assert.equal(reliabilityColor(null), null);
  assert.equal(reliabilityColor(0), "#fde725");
  assert.equal(reliabilityColor(RELIABILITY_KL_MAX), "#440154");
  let last = Number.POSITIVE_INFINITY;
  for (let kl = 0; kl <= RELIABILITY_KL_MAX; kl += 0.5) {
    const c = reliabilityColor(kl);
    assert.match(c, /^#[0-9a-f]{6}$/);
    const y = luminance(c);
    assert.ok(y < last, `darker as KL grows (${kl}: ${c})`);
    last = y;
  }
});

test("reliability in words: KL in nats, agreement in percent, the note, unmeasured rows", () => {
  const rel = { kl: [1.6249, 19.84, null, null], top1: [0.314, 0.05, 0.5, null], note: "n" };
  assert.equal(reliabilityText(rel, 0), "held-out KL 1.62 nats \u00b7 top-1 agreement 31% (n)");
  assert.equal(reliabilityText(rel, 1, false), "held-out KL 19.8 nats \u00b7 top-1 agreement 5%");
  assert.equal(
    reliabilityText(rel, 2, false),
    "held-out KL not measured \u00b7 top-1 agreement 50%",
  );
  assert.equal(reliabilityText(rel, 3), "reliability not measured at this row (n)");
  assert.equal(reliabilityText({ ...rel, note: "" }, 0), reliabilityText(rel, 0, false));
  assert.equal(reliabilityText(null, 0), "");
});

test("side names and the badge name both lenses only when the sides' lenses differ", () => {
  const labels = ["A", "B"];
  assert.deepEqual(sideLabels(labels, "tuned lens", "tuned lens"), labels);
  assert.deepEqual(sideLabels(labels, "tuned lens", null), labels);
  assert.deepEqual(sideLabels(labels, "tuned lens", "logit lens"), [
    "A (tuned lens)",
    "B (logit lens)",
  ]);
  assert.equal(lensBadge(labels, "tuned lens", null), "tuned lens");
  assert.equal(lensBadge(labels, "tuned lens", "tuned lens"), "tuned lens");
  assert.equal(lensBadge(labels, "tuned lens", "logit lens"), "A: tuned lens \u00b7 B: logit lens");
});

test("the tooltip's lens lines: one naming the lens, or one per side of a two-lens diff", () => {
  const a = { lensName: "tuned lens", reliability: { kl: [0.5], top1: [0.9], note: "n" } };
  const b = { lensName: "logit lens", reliability: null };
  assert.deepEqual(lensFacts(a, 0, null, ["A", "B"]), [
    ["tuned lens", "held-out KL 0.50 nats \u00b7 top-1 agreement 90%"],
  ]);
  assert.deepEqual(lensFacts(b, 0, { ...b }, ["A", "B"]), [["logit lens", "no reliability data"]]);
  assert.deepEqual(lensFacts(a, 0, b, ["x", "y"]), [
    ["x: tuned lens", "held-out KL 0.50 nats \u00b7 top-1 agreement 90%"],
    ["y: logit lens", "no reliability data"],
  ]);
});

test("lens_choices: well-formed entries kept, others left out, long text cut, never thrown", () => {
  assert.deepEqual(lensChoices(null), []);
  assert.deepEqual(lensChoices("tuned"), []);
  const ok = { key: "tuned", name: "tuned lens", note: "fitted" };
  assert.deepEqual(lensChoices([ok, null, 3, { key: 1, name: "x" }, { key: "", name: "y" }]), [ok]);
  assert.deepEqual(lensChoices([{ key: "linear", name: "" }]), [
    { key: "linear", name: "linear", note: "" },
  ]);
  const long = lensChoices([{ key: "k", name: "n".repeat(500), note: "m".repeat(500) }])[0];
  assert.equal(long.name.length, LENS_NAME_MAX);
  assert.equal(long.note.length, LENS_NAME_MAX);
});
