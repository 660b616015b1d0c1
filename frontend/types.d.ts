// esbuild bundles the stylesheet that index.js imports for its side effect; TypeScript only
// needs to know that such an import resolves.
declare module "*.css";

// The shapes Python sends for issue 20 (edits and the patching sweep). Declared here, once,
// so the payload's decoder, the views and the tests' fixtures agree; they are types only.

/** One edit an edited run was made with (the payload's `edits`, docs/data-format.md §3). */
interface LlkEdit {
  kind: "patch" | "steer" | "ablate" | "custom";
  /** untrusted text (it may hold token strings): shown with textContent only */
  label: string;
  /** model layer number, >= 0 */
  layer: number;
  /** 1: made inside the layer before its after-attention point (both rows touched); 0: not */
  row_kind: 0 | 1;
  /** the first position the edit acts on */
  from_position: number;
  /** a steer's scale (a steer always has one) */
  alpha?: number;
}

/** The `sweep` trait: a patching sweep's progress and values ({} = no sweep). */
interface LlkSweep {
  metric: string;
  clean_label: string;
  corrupt_label: string;
  /** model layer numbers, one per row of `values` */
  layers: number[];
  /** positions, one per column of `values` */
  positions: number[];
  /** each position's token text */
  tokens: string[];
  /** [layers][positions]: the metric with that cell patched; null while not computed */
  values: (number | null)[][];
  clean_value: number;
  corrupt_value: number;
  done: number;
  total: number;
  running: boolean;
  error: string;
}
