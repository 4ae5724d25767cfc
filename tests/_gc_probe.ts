// Run by tests (tests/runtime/pending_gc_test.ts, tests/protocol/wire_value_gc_test.ts) in a child
// `deno run --v8-flags=--expose-gc,...`: churns a long-lived table whose backing store has been
// promoted to old space, then prints how many bytes of the churned (dead) objects two minor GCs
// left alive. Usage: _gc_probe.ts pending|seen
import { PendingRequests } from "../runtime/_pending.ts";
import { wireValueProblem } from "../protocol/wire_value.ts";

const gc = (globalThis as unknown as {
  gc(options?: { type: "minor" | "major"; execution: "sync" }): void;
}).gc;
const what = Deno.args[0];
const used = () => Deno.memoryUsage().heapUsed;
interface Waiting {
  id: number;
  deadline: number;
  body?: number[];
}
const table = new PendingRequests<Waiting>({
  onExpire() {},
  setTimer: () => 0,
  clearTimer() {},
});

// The long-lived structure's table, promoted: it survives two full GCs.
if (what === "pending") table.add({ id: 0, deadline: Infinity });
else wireValueProblem({ a: {} }, "b");
gc({ type: "major", execution: "sync" });
gc({ type: "major", execution: "sync" });
if (what === "pending") table.take(0);
const before = used();

// Churn: 40,000 short-lived objects of ~600 bytes through it, 100 at a time for the table.
for (let i = 1; i <= 40_000; i++) {
  const body = new Array<number>(64).fill(i);
  if (what === "pending") {
    table.add({ id: i, deadline: Infinity, body });
    if (i > 100) table.take(i - 100);
  } else if (wireValueProblem({ list: body }, "b") !== null) throw new Error("refused");
}
for (let i = 39_901; i <= 40_000; i++) table.take(i);
gc({ type: "minor", execution: "sync" });
gc({ type: "minor", execution: "sync" });
console.log(JSON.stringify({ kept: used() - before }));
