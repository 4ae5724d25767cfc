// Plans as pure data: what applying an edited topology adds, removes, scales, replaces (new
// incarnation) or updates in place, in which order, and what it refuses to change live.
import assert from "node:assert/strict";
import { formatPlan, planTopology } from "../../config/plan.ts";
import {
  type ContainerInput,
  type TopologyInput,
  validateTopology,
} from "../../config/topology.ts";

const base = { baseUrl: "file:///app/" };
const topo = (input: TopologyInput) => validateTopology(input, base);
const c = (extra: Record<string, unknown> = {}): ContainerInput =>
  ({ module: "./a.ts", mode: "worker", ...extra }) as ContainerInput;

Deno.test("plan: the same topology changes nothing and lists every container as unchanged", () => {
  const a = topo({ containers: { api: c(), db: c({ mode: "process" }) } });
  assert.deepEqual(planTopology(a, a), { steps: [], unchanged: ["api", "db"], refused: [] });
});

Deno.test("plan: additions in the new order first, removals last in reverse order", () => {
  const a = topo({ containers: { x: c(), y: c(), z: c() } });
  const b = topo({ containers: { n1: c(), y: c(), n2: c({ mode: "inline", replicas: 2 }) } });
  assert.deepEqual(planTopology(a, b).steps, [
    { op: "add", name: "n1", parent: null, mode: "worker", replicas: 1 },
    { op: "add", name: "n2", parent: null, mode: "inline", replicas: 2 },
    { op: "remove", name: "z", parent: null },
    { op: "remove", name: "x", parent: null },
  ]);
});

Deno.test("plan: only replicas changed is a scale", () => {
  const a = topo({ containers: { api: c() } });
  const b = topo({ containers: { api: c({ replicas: 4 }) } });
  assert.deepEqual(planTopology(a, b).steps, [
    { op: "scale", name: "api", parent: null, from: 1, to: 4 },
  ]);
});

Deno.test("plan: what an instance starts with (mode, module, permissions, unstable, config, max_memory) is a replace", () => {
  const a = topo({ containers: { api: c({ config: { k: 1 } }) } });
  const cases: [Record<string, unknown>, string[]][] = [
    [{ mode: "process", config: { k: 1 } }, ["mode: worker → process"]],
    [{ module: "./b.ts", config: { k: 1 } }, ["module: file:///app/a.ts → file:///app/b.ts"]],
    [{ config: { k: 1 }, permissions: { net: ["127.0.0.1:80"] } }, ["permissions"]],
    [{ config: { k: 1 }, unstable: ["net"] }, ["unstable"]],
    [{ config: { k: 2 } }, ["config"]],
    [{ config: { k: 1 }, max_memory: "64MiB" }, ["maxMemory"]],
    [{ config: { k: 1 }, replicas: 3, mode: "process" }, [
      "mode: worker → process",
      "replicas: 1 → 3",
    ]],
  ];
  for (const [next, changes] of cases) {
    assert.deepEqual(planTopology(a, topo({ containers: { api: c(next) } })).steps, [
      { op: "replace", name: "api", parent: null, changes },
    ], JSON.stringify(next));
  }
});

Deno.test("plan: config compared by value, not key order", () => {
  const a = topo({ containers: { api: c({ config: { a: 1, b: { x: 1, y: 2 } } }) } });
  const b = topo({ containers: { api: c({ config: { b: { y: 2, x: 1 }, a: 1 } }) } });
  assert.deepEqual(planTopology(a, b).steps, []);
});

Deno.test("plan: what only the supervisor reads is updated in place", () => {
  const a = topo({ containers: { api: c() } });
  const b = topo({
    containers: {
      api: c({
        restart: "transient",
        shutdown: "1s",
        balance: "random",
        buffer: 10,
        on_error: [{ match: "DbError", action: "resume" }],
      }),
    },
  });
  assert.deepEqual(planTopology(a, b).steps, [{
    op: "update",
    name: "api",
    parent: null,
    changes: [
      "restart: permanent → transient",
      "shutdown: 5000 → 1000",
      "buffer: 1000 → 10",
      "balance: round_robin → random",
      "on_error",
    ],
  }]);
});

Deno.test("plan: a scale and an in-place update of one container are two steps", () => {
  const a = topo({ containers: { api: c() } });
  const b = topo({ containers: { api: c({ replicas: 2, keepalive: "1s" }) } });
  assert.deepEqual(planTopology(a, b).steps.map((s) => s.op), ["scale", "update"]);
});

Deno.test("plan: the root supervisor's flags change first", () => {
  const a = topo({ containers: { api: c() } });
  const b = topo({
    supervisor: { strategy: "one_for_all", intensity: 9 },
    containers: { api: c(), more: c() },
  });
  assert.deepEqual(planTopology(a, b).steps[0], {
    op: "supervisor",
    name: null,
    changes: ["strategy: one_for_one → one_for_all", "intensity: 5 → 9"],
  });
});

Deno.test("plan: children of an inline container are planned by name, under their parent", () => {
  const a = topo({
    containers: { p: c({ mode: "inline", children: { k1: c(), k2: c() } }) },
  });
  const b = topo({
    containers: {
      p: c({
        mode: "inline",
        supervisor: { strategy: "rest_for_one" },
        children: { k2: c({ replicas: 2 }), k3: c() },
      }),
    },
  });
  const plan = planTopology(a, b);
  assert.deepEqual(plan.steps, [
    { op: "supervisor", name: "p", changes: ["strategy: one_for_one → rest_for_one"] },
    { op: "scale", name: "k2", parent: "p", from: 1, to: 2 },
    { op: "add", name: "k3", parent: "p", mode: "worker", replicas: 1 },
    { op: "remove", name: "k1", parent: "p" },
  ]);
});

Deno.test("plan: children of a worker or process container change with it (a replace)", () => {
  const a = topo({ containers: { p: c({ mode: "process", children: { k1: c() } }) } });
  const b = topo({
    containers: { p: c({ mode: "process", children: { k1: c(), k2: c() } }) },
  });
  assert.deepEqual(planTopology(a, b).steps, [
    { op: "replace", name: "p", parent: null, changes: ["children"] },
  ]);
});

Deno.test("plan: a rename or new links to other runtimes are refused, the rest is planned", () => {
  const a = topo({ name: "shop", containers: { api: c() } });
  const b = topo({
    name: "store",
    transports: { secret: "s", listen: "tcp://127.0.0.1:0" },
    containers: { api: c({ replicas: 2 }) },
  });
  const plan = planTopology(a, b);
  assert.deepEqual(plan.refused, [
    'name: "shop" → "store" (restart the runtime to rename)',
    "transports: links to other runtimes change only with a restart",
  ]);
  assert.equal(plan.steps.length, 1);
});

Deno.test("formatPlan: one line per step, the refusals, then what stays", () => {
  const a = topo({ containers: { api: c(), db: c(), old: c() } });
  const b = topo({
    containers: { api: c({ mode: "process", replicas: 2 }), db: c(), web: c({ mode: "inline" }) },
  });
  assert.equal(
    formatPlan(planTopology(a, b)),
    [
      "~ replace api: mode: worker → process; replicas: 1 → 2",
      "+ add web: inline, 1 replica",
      "- remove old",
      "  unchanged: db",
    ].join("\n"),
  );
  assert.equal(formatPlan({ steps: [], unchanged: [], refused: [] }), "nothing to change");
});

Deno.test("plan: runs_as of a remote container is a replace; placement and management are refused live", () => {
  const hosts = { h: { address: "tcp://h:1" } };
  const base2 = { transports: { secret: "s" }, hosts };
  const a = topo({ ...base2, containers: { r: { module: "./a.ts", mode: "remote" } } });
  const b = topo({
    ...base2,
    placement: "least_loaded",
    management: { token: "t" },
    containers: { r: { module: "./a.ts", mode: "remote", runs_as: "worker" } },
  });
  const plan = planTopology(a, b);
  assert.deepEqual(plan.steps, [{ op: "replace", name: "r", parent: null, changes: ["runsAs"] }]);
  assert.deepEqual(plan.refused, [
    "placement: the policy for remote containers changes only with a restart",
    "management: the API's address and token change only with a restart",
  ]);
});
