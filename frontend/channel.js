// The request channel to Python (docs/live-loop.md, "Commands"): anywidget's
// `experimental.invoke`, wrapped with a timeout per command, abort when the view goes away,
// and one error type whose message a user can read. Answers are validated here, so callers
// get plain typed values.

import { typed, DecodeError } from "./decode.js";

/** @typedef {import("@anywidget/types").Experimental} Experimental */
/** @typedef {import("@anywidget/types").AnyModel<any>} Messenger a model, either widget's */

/**
 * Why a request failed: `abort` (the view or the caller gave up; not worth showing),
 * `timeout` (no answer in time), `unavailable` (the host offers no command channel),
 * `failed` (sending or receiving failed), `answer` (Python answered `{error}` or nonsense),
 * `stale` (Python answered `{error, stale: true}`: the request was for data no longer shown).
 * @typedef {"abort" | "timeout" | "unavailable" | "failed" | "answer" | "stale"} FailureKind
 */

export class ChannelError extends Error {
  /**
   * @param {string} message
   * @param {FailureKind} kind
   * @param {unknown} [cause] what the host threw, for a `failed` request
   */
  constructor(message, kind, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.kind = kind;
  }
}

/**
 * The commands (docs/live-loop.md) and how long each may take before the browser stops
 * waiting. `detail` may rerun a trace on NDIF, or wait behind a running collection;
 * `generate_tokens` answers once the generation has started (after the prompt's own run, when
 * the prompt changed), then streams its tokens as same-run data; the others answer at once.
 * The names are the Python methods': `run`, `stop` and `generate` are taken by the widget's
 * public methods and `confirm` by a trait, hence `rerun`, `halt`, `generate_tokens` and
 * `answer`; `stop` and `resume` are the study widget's (StudyWidget's commands).
 */
export const TIMEOUT_MS = Object.freeze({
  ping: 3000,
  select: 10000,
  rerun: 10000,
  halt: 10000,
  answer: 10000,
  detail: 120000,
  generate_tokens: 120000,
  figure: 60000,
  // Issue 20's edits: they answer once Python has accepted them and started the run that
  // applies them (the new data follows as a trait), which may wait behind a running one.
  // `patch` and `sweep` are the widget's public method and trait: hence `patch_cell` and
  // `sweep_action`.
  edit: 120000,
  patch_cell: 120000,
  sweep_action: 10000,
  // The study widget's buttons (study_widget.py): they run Python's on_stop / on_resume
  // handlers, which set a flag or start a background run, so they answer at once.
  stop: 10000,
  resume: 10000,
});

/**
 * A `detail` answer: the exact probability of each id at every lens row of one position.
 * @typedef {object} Detail
 * @property {number} run
 * @property {number} layer model layer number the ids are sorted at
 * @property {number} position
 * @property {number[]} ids most probable first
 * @property {string[]} tokens decoded text of each id
 * @property {Float32Array} probs [n, L]
 */

export class Channel {
  /**
   * @param {Experimental | undefined} experimental from anywidget's render(); absent in hosts
   *   without commands (an exported HTML page, an old anywidget)
   * @param {AbortSignal} signal the view's: ends every pending request
   * @param {Messenger} [model] the widget's model (either widget's): carries the commands as
   *   custom messages where the host's `invoke` is a stub that throws (marimo)
   */
  constructor(experimental, signal, model) {
    this.invoke = experimental?.invoke;
    this.signal = signal;
    this.model = model;
    /** Set once the host's `invoke` said it is not supported: messages from then on. */
    this.byMessage = false;
    // Ids of the commands sent as messages: every view of the model hears every answer, so
    // each Channel's ids carry their own random part.
    this.idPrefix = `llk-${Math.random().toString(36).slice(2)}`;
    this.sent = 0;
  }

  /** Whether commands can be sent at all (not whether a kernel answers). */
  get available() {
    return typeof this.invoke === "function";
  }

  /**
   * Send one command and wait for its answer.
   * @param {keyof typeof TIMEOUT_MS} name
   * @param {Record<string, unknown>} msg
   * @param {AbortSignal} [signal] the caller's, e.g. a newer request supersedes this one
   * @returns {Promise<{ answer: Record<string, any>, buffers: DataView[] }>}
   */
  async request(name, msg, signal) {
    const invoke = this.invoke;
    if (!invoke) {
      throw new ChannelError("this widget's host cannot send commands to Python", "unavailable");
    }
    const timeout = AbortSignal.timeout(TIMEOUT_MS[name]);
    const all = [this.signal, timeout, ...(signal ? [signal] : [])];
    const ctl = follow(all);
    let result;
    try {
      result = await this.send(invoke, name, msg, ctl.signal);
    } catch (err) {
      if (this.signal.aborted || signal?.aborted)
        throw new ChannelError(`${name} aborted`, "abort");
      if (timeout.aborted) {
        throw new ChannelError(
          `Python did not answer "${name}" within ${TIMEOUT_MS[name] / 1000} s`,
          "timeout",
        );
      }
      throw new ChannelError(`"${name}" could not reach Python: ${message(err)}`, "failed", err);
    } finally {
      ctl.abort();
    }
    const [answer, buffers] = result;
    if (!answer || typeof answer !== "object" || Array.isArray(answer)) {
      throw new ChannelError(`Python answered "${name}" with ${JSON.stringify(answer)}`, "answer");
    }
    const a = /** @type {Record<string, any>} */ (answer);
    if (typeof a.error === "string")
      throw new ChannelError(a.error, a.stale === true ? "stale" : "answer");
    return { answer: a, buffers: buffers ?? [] };
  }

  /**
   * One command through the host's `invoke`, or, where that is a stub, through anywidget's
   * own protocol over the model's custom messages (Python's side is the same).
   * @param {NonNullable<Experimental["invoke"]>} invoke
   * @param {string} name
   * @param {Record<string, unknown>} msg
   * @param {AbortSignal} signal
   * @returns {Promise<[unknown, DataView[]]>}
   */
  async send(invoke, name, msg, signal) {
    const model = this.model;
    if (!this.byMessage || !model) {
      try {
        return /** @type {[unknown, DataView[]]} */ (await invoke(name, msg, { signal }));
      } catch (err) {
        if (!model || signal.aborted || !UNSUPPORTED.test(message(err))) throw err;
        this.byMessage = true;
      }
    }
    return invokeByMessage(model, `${this.idPrefix}-${++this.sent}`, name, msg, signal);
  }

  /** @returns {Promise<void>} resolves when Python answers; rejects with a ChannelError */
  async ping() {
    await this.request("ping", {});
  }

  /**
   * Report a selected cell (token null) or token to Python's on_select callbacks.
   * @param {number} layer model layer number
   * @param {number} row lens row (index into the data's layers)
   * @param {number} position
   * @param {number | null} token
   */
  async select(layer, row, position, token) {
    await this.request("select", { layer, row, position, token });
  }

  /** Rerun the current prompt (Enter on an unchanged prompt). */
  async run() {
    await this.request("rerun", {});
  }

  /** @returns {Promise<boolean>} whether a run was stopped */
  async stop() {
    const { answer } = await this.request("halt", {});
    return Boolean(answer.stopped);
  }

  /**
   * Generate `n` tokens after the prompt (greedy, or sampled with `seed`; null: any seed);
   * the tokens arrive as same-run data, one position more each. Resolves once Python has
   * started; rejects with a ChannelError (kind `answer` for Python's `{error}`).
   * @param {{ n: number, sample: boolean, seed: number | null }} msg
   */
  async generate(msg) {
    const { answer } = await this.request("generate_tokens", {
      n: msg.n,
      sample: msg.sample,
      seed: msg.sample ? msg.seed : null,
    });
    if (answer.started !== true) {
      throw new ChannelError(
        `Python answered "generate_tokens" with ${JSON.stringify(answer)}, not {"started": true}`,
        "answer",
      );
    }
  }

  /**
   * Answer the pending `confirm` question.
   * @param {boolean} accept
   */
  async confirm(accept) {
    await this.request("answer", { accept });
  }

  /**
   * Change the shown run's edits (issue 20): remove one, set a steer's α, or clear them all.
   * Resolves on `{ok: true}`; rejects with a ChannelError (kind `answer` for Python's `{error}`).
   * @param {{ action: "remove", index: number } | { action: "alpha", index: number,
   *   alpha: number } | { action: "clear" }} msg
   */
  async edit(msg) {
    await this.request("edit", msg);
  }

  /**
   * Patch side A's state at (layer, position) into side B (at position `into`, default the
   * same) and rerun side B with it (issue 20; command `patch_cell`).
   * @param {{ layer: number, position: number, row_kind?: 0 | 1, into?: number }} msg
   */
  async patch(msg) {
    await this.request("patch_cell", msg);
  }

  /**
   * The patching sweep's panel (command `sweep_action`): `{action: "close"}` ends it and
   * clears the `sweep` trait.
   * @param {{ action: "close" }} msg
   */
  async sweep(msg) {
    await this.request("sweep_action", msg);
  }

  /**
   * The grid and chart drawn by Python (figure.py) as an SVG or PNG file.
   * @param {"svg" | "png"} format
   * @param {"light" | "dark"} theme the theme the view shows ("auto" resolved here)
   * @returns {Promise<Uint8Array<ArrayBuffer>>} the file's bytes (a copy: the message buffer is not kept)
   */
  async figure(format, theme) {
    const { answer, buffers } = await this.request("figure", { format, theme });
    const data = buffers[0];
    if (answer.format !== format || !data || data.byteLength !== answer.size || !data.byteLength) {
      throw new ChannelError(`Python's "figure" answer is not a ${format} file`, "answer");
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  }

  /**
   * The `k` most probable tokens of one cell with their trajectories at its position.
   * @param {{ run: number, layer: number, row: number, position: number, k: number }} msg
   * @param {number} L lens rows of the shown data (the buffer's second dimension)
   * @param {AbortSignal} [signal]
   * @returns {Promise<Detail>}
   */
  async detail(msg, L, signal) {
    const { answer: a, buffers } = await this.request("detail", msg, signal);
    const ids = a.ids;
    const tokens = a.tokens;
    const bad = (/** @type {string} */ why) =>
      new ChannelError(`Python's "detail" answer ${why}`, "answer");
    const wrong = tokenListProblem(ids, tokens);
    if (wrong) throw bad(wrong);
    if (!Number.isInteger(a.run) || a.position !== msg.position || a.layer !== msg.layer) {
      throw bad(`is for another cell (run ${a.run}, layer ${a.layer}, position ${a.position})`);
    }
    let probs;
    try {
      probs = typed(buffers[0], "the probability buffer", Float32Array, ids.length * L);
    } catch (err) {
      if (err instanceof DecodeError) throw bad(`is malformed: ${err.message}`);
      throw err;
    }
    return { run: a.run, layer: a.layer, position: a.position, ids, tokens, probs };
  }
}

/**
 * Trajectories Python sends ahead of the data that will hold them (a new pin's, see
 * docs/live-loop.md): the probability of each id at every lens row of every position.
 * @typedef {object} Pushed
 * @property {number} run the run they belong to
 * @property {number[]} ids
 * @property {string[]} tokens decoded text of each id
 * @property {DataView | undefined} buffer float32 [P, n, L], checked by the receiver (it
 *   knows P and L)
 */

/**
 * Call `fn` with each trajectories message Python sends, until `signal` aborts. Malformed
 * ones are dropped: the data trait that follows carries the same trajectories.
 * @param {import("./state.js").Model} model
 * @param {AbortSignal} signal
 * @param {(pushed: Pushed) => void} fn
 */
export function onPushedTrajectories(model, signal, fn) {
  /** @type {(msg: any, buffers: DataView[]) => void} */
  const handler = (msg, buffers) => {
    if (msg?.kind !== "llk-trajectories" || !Number.isInteger(msg.run)) return;
    if (tokenListProblem(msg.ids, msg.tokens)) return;
    fn({ run: msg.run, ids: msg.ids, tokens: msg.tokens, buffer: buffers?.[0] });
  };
  model.on("msg:custom", handler);
  signal.addEventListener("abort", () => model.off("msg:custom", handler), { once: true });
}

/**
 * What is wrong with a list of token ids and their strings from Python, or "".
 * @param {unknown} ids
 * @param {unknown} tokens
 */
function tokenListProblem(ids, tokens) {
  if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
    return "has no list of token ids";
  }
  if (
    !Array.isArray(tokens) ||
    tokens.length !== ids.length ||
    !tokens.every((t) => typeof t === "string")
  ) {
    return `does not give one token string per id (${ids.length})`;
  }
  return "";
}

/** What a host's stub `invoke` throws: marimo's says "anywidget.invoke not supported in marimo". */
const UNSUPPORTED = /invoke not supported/i;

/**
 * anywidget's command protocol (what its own `invoke` sends, and what the Python side of
 * `@anywidget.experimental.command` answers) over the model's custom messages: the channel
 * marimo does carry. The id, unique per request, pairs each answer with its question.
 * @param {Messenger} model
 * @param {string} id
 * @param {string} name
 * @param {Record<string, unknown>} msg
 * @param {AbortSignal} signal
 * @returns {Promise<[unknown, DataView[]]>}
 */
function invokeByMessage(model, id, name, msg, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    /** @type {(answer: any, buffers: DataView[]) => void} */
    const handler = (answer, buffers) => {
      if (answer?.kind !== "anywidget-command-response" || answer.id !== id) return;
      done();
      resolve([answer.response, buffers ?? []]);
    };
    const onAbort = () => {
      done();
      reject(signal.reason);
    };
    const done = () => {
      model.off("msg:custom", handler);
      signal.removeEventListener("abort", onAbort);
    };
    model.on("msg:custom", handler);
    signal.addEventListener("abort", onAbort, { once: true });
    model.send({ id, kind: "anywidget-command", name, msg }, undefined, []);
  });
}

/**
 * A controller that aborts with the first of `signals`. Its listeners on them are removed when
 * it aborts, which `request` makes sure of once the answer is in: the view's signal lives as
 * long as the view and must not collect one listener per request.
 * @param {AbortSignal[]} signals
 */
function follow(signals) {
  const ctl = new AbortController();
  for (const s of signals) {
    if (s.aborted) ctl.abort(s.reason);
    else s.addEventListener("abort", () => ctl.abort(s.reason), { once: true, signal: ctl.signal });
  }
  return ctl;
}

/** @param {unknown} err */
function message(err) {
  return err instanceof Error ? err.message : String(err);
}
