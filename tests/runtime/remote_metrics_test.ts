// What host agents report of remote containers: checked, kept only for what was placed on the
// reporting agent, and shown only while the container still runs there.
import assert from "node:assert/strict";
import type { Figures } from "../../runtime/_metrics.ts";
import { RemoteFigures } from "../../runtime/_remote_metrics.ts";

const figures = (r: number) => ({ i: r, o: 0, r, e: 0, f: 0, q: 0, h: [], m: null });
const entry = (name: string, host: string) => ({
  name,
  host,
  state: "running",
  restarts: 0,
  instances: [{}],
});

Deno.test("an agent's figures count only for containers placed on it", () => {
  const remote = new RemoteFigures();
  // node-c claims api (placed on node-b) and db (placed on it): only db is kept.
  assert.equal(
    remote.report("node-c", { api: figures(99), db: figures(4) }, (n) => n === "db"),
    true,
  );
  const into = new Map<string, Figures>();
  const entries = remote.entries([entry("api", "node-b"), entry("db", "node-c")], into);
  assert.deepEqual(entries.map((e) => [e.name, e.host, e.mode]), [
    ["api", "node-b", "remote"],
    ["db", "node-c", "remote"],
  ]);
  assert.equal(into.get("api"), undefined);
  assert.equal(into.get("db")?.r, 4);
});

Deno.test("malformed figures from an agent are refused whole", () => {
  const remote = new RemoteFigures();
  assert.equal(remote.report("node-b", { api: { i: "lots" } }, () => true), false);
  assert.equal(remote.report("node-b", "nothing", () => true), false);
  const into = new Map<string, Figures>();
  remote.entries([entry("api", "node-b")], into);
  assert.equal(into.get("api"), undefined);
});

Deno.test("a container that moved shows its new agent's figures only", () => {
  const remote = new RemoteFigures();
  remote.report("node-b", { api: figures(7) }, () => true);
  const into = new Map<string, Figures>();
  const [api] = remote.entries([entry("api", "node-c")], into);
  assert.equal(api.host, "node-c");
  assert.equal(into.get("api"), undefined, "node-b's figures are not node-c's");
});
