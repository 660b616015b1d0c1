// The codes the data uses for a cell's status, a position's kind and a lens row's kind, as
// the payload carries them (docs/data-format.md §3). Re-exported by lens.js.

/** Cell status values (docs/live-loop.md, `cell_status`). */
export const CELL_OK = 0;
export const CELL_INVALID = 1;
export const CELL_PENDING = 2;

/** Position kinds (docs/data-format.md §3, `position_kinds`). */
export const POS_PROMPT = 0;
export const POS_TEMPLATE = 1;
export const POS_GENERATED = 2;

/** Lens row kinds (docs/data-format.md §3, `row_kinds`). */
export const ROW_OUTPUT = 0;
export const ROW_ATTENTION = 1;
