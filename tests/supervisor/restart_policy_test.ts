// Restart decisions: restart type × exit reason, sliding-window intensity, backoff.
import assert from "node:assert/strict";
import type { ExitReason } from "../../mod.ts";
import { backoffDelay, recordRestart, shouldRestart } from "../../supervisor/restart_policy.ts";

const reasons: ExitReason["kind"][] = [
  "normal",
  "stopped",
  "error",
  "crashed",
  "killed",
  "unresponsive",
];

Deno.test("shouldRestart(): permanent always, transient only after abnormal exits, temporary never", () => {
  for (const kind of reasons) {
    const reason = { kind, message: kind };
    const abnormal = kind !== "normal" && kind !== "stopped";
    assert.equal(shouldRestart("permanent", reason), true, `permanent/${kind}`);
    assert.equal(shouldRestart("transient", reason), abnormal, `transient/${kind}`);
    assert.equal(shouldRestart("temporary", reason), false, `temporary/${kind}`);
  }
});

Deno.test("recordRestart(): more than intensity restarts within period is exceeded (sliding window)", () => {
  const spec = { intensity: 3, period: 1000 };
  let history: number[] = [];
  for (const t of [0, 100, 200]) {
    const r = recordRestart(history, t, spec);
    assert.equal(r.exceeded, false);
    history = r.history;
  }
  assert.equal(recordRestart(history, 300, spec).exceeded, true);
  // Spaced wider than the period: never exceeded however many there are.
  history = [];
  for (let t = 0; t < 100_000; t += 400) {
    const r = recordRestart(history, t, spec);
    assert.equal(r.exceeded, false, `at ${t}`);
    history = r.history;
  }
});

Deno.test("backoffDelay(): doubles from min to max, jitter stays within its share", () => {
  const b = { min: 10, max: 300, jitter: 0 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, b, 0.5)), [
    10,
    20,
    40,
    80,
    160,
    300,
    300,
  ]);
  const j = { min: 100, max: 100, jitter: 0.2 };
  assert.equal(backoffDelay(1, j, 0), 80);
  assert.equal(backoffDelay(1, j, 0.999999), 120);
});
