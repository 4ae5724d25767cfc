/**
 * "Did you mean" for misspelt keys and values.
 *
 * A candidate is suggested when it is the same word written another way (`maxFrame`, `max-frame`,
 * `Max_Frame` for `max_frame`), within one edit of a short word or two of a longer one (a swap of
 * two neighbouring letters counts as one), or when one starts with the other (`perm` for
 * `permissions`).
 *
 * @module
 */

/**
 * The closest candidate to `word`, if any is close enough to be what was meant.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { suggest } from "./_suggest.ts";
 * assert.equal(suggest("contaners", ["name", "containers"]), "containers");
 * assert.equal(suggest("maxFrame", ["max_frame"]), "max_frame");
 * assert.equal(suggest("xyz", ["name"]), undefined);
 * ```
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = normalize(word);
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const c = normalize(candidate);
    const d = distance(w, c);
    const limit = Math.min(w.length, c.length) <= 4 ? 1 : 2;
    let score = d <= limit ? d : Infinity;
    // A word cut short (or a candidate that is a prefix of it) is what was meant, unless too short.
    if (score === Infinity && Math.min(w.length, c.length) >= 3) {
      if (c.startsWith(w) || w.startsWith(c)) score = limit + 0.5;
    }
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/**
 * ` (did you mean "x"?)`, or nothing when no candidate is close.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { didYouMean } from "./_suggest.ts";
 * assert.equal(didYouMean("restrat", ["restart", "stop"]), ' (did you mean "restart"?)');
 * assert.equal(didYouMean("zzz", ["restart"]), "");
 * ```
 */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const near = suggest(word, candidates);
  return near !== undefined && near !== word ? ` (did you mean "${near}"?)` : "";
}

/** One spelling for `maxFrame`, `max-frame`, `Max Frame` and `max_frame`. */
function normalize(word: string): string {
  return word.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase().replace(/[-\s]+/g, "_");
}

/** Edit distance where swapping two neighbouring letters is one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from(
    { length: a.length + 1 },
    (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
