// Supervisor strategy decisions: decide() case by case against OTP semantics, and stopOrder().
import assert from "node:assert/strict";
import type { ExitReason } from "../../protocol/envelope.ts";
import type { RestartType, Strategy } from "../../supervisor/spec.ts";
import {
  type ChildEnded,
  type ChildView,
  decide,
  type Decision,
  stopOrder,
  STRATEGY_NAMES,
} from "../../supervisor/strategy.ts";

const STRATEGIES: Strategy[] = ["one_for_one", "one_for_all", "rest_for_one"];
const TYPES: RestartType[] = ["permanent", "transient", "temporary"];
const KINDS: ExitReason["kind"][] = [
  "normal",
  "stopped",
  "error",
  "crashed",
  "killed",
  "unresponsive",
  "max_memory",
];

/** Whether OTP restarts a child of `type` that ended for `kind` (written out, not computed). */
const RESTARTS: Record<RestartType, Record<ExitReason["kind"], boolean>> = {
  permanent: {
    normal: true,
    stopped: true,
    error: true,
    crashed: true,
    killed: true,
    unresponsive: true,
    max_memory: true,
  },
  transient: {
    normal: false,
    stopped: false,
    error: true,
    crashed: true,
    killed: true,
    unresponsive: true,
    max_memory: true,
  },
  temporary: {
    normal: false,
    stopped: false,
    error: false,
    crashed: false,
    killed: false,
    unresponsive: false,
    max_memory: false,
  },
};

const reason = (kind: ExitReason["kind"]): ExitReason => ({ kind, message: kind });
const crash = reason("error");
const roomy = { intensity: 100, period: 10_000 };

function input(
  strategy: Strategy,
  children: ChildView[],
  ended: string,
  extra: Partial<ChildEnded> = {},
): ChildEnded {
  return {
    spec: { strategy, ...roomy },
    children,
    ended,
    reason: crash,
    history: [],
    now: 1_000,
    ...extra,
  };
}

function restartOf(d: Decision): Extract<Decision, { kind: "restart" }> {
  assert.equal(d.kind, "restart");
  return d as Extract<Decision, { kind: "restart" }>;
}

function giveUpOf(d: Decision): Extract<Decision, { kind: "give_up" }> {
  assert.equal(d.kind, "give_up");
  return d as Extract<Decision, { kind: "give_up" }>;
}

interface Expected {
  stop: string[];
  start: string[];
  drop: string[];
}

/**
 * Two 4-child layouts, one with the ended child second and one with it third, so there are live
 * siblings before and after it, a temporary sibling and a held sibling in each.
 */
interface Layout {
  label: string;
  ended: string;
  children: (type: RestartType) => ChildView[];
  restart: Record<Strategy, Expected>;
  /** What give_up stops: every live non-held sibling, reverse start order. */
  giveUp: string[];
}

const LAYOUTS: Layout[] = [
  {
    label: "ended b of [a:permanent, b, c:temporary, d:transient held]",
    ended: "b",
    children: (type) => [
      { name: "a", restart: "permanent", alive: true },
      { name: "b", restart: type, alive: false },
      { name: "c", restart: "temporary", alive: true },
      { name: "d", restart: "transient", alive: false, held: true },
    ],
    restart: {
      one_for_one: { stop: [], start: ["b"], drop: [] },
      one_for_all: { stop: ["c", "a"], start: ["a", "b"], drop: ["c"] },
      rest_for_one: { stop: ["c"], start: ["b"], drop: ["c"] },
    },
    giveUp: ["c", "a"],
  },
  {
    label: "ended c of [a:temporary, b:transient held, c, d:permanent]",
    ended: "c",
    children: (type) => [
      { name: "a", restart: "temporary", alive: true },
      { name: "b", restart: "transient", alive: false, held: true },
      { name: "c", restart: type, alive: false },
      { name: "d", restart: "permanent", alive: true },
    ],
    restart: {
      one_for_one: { stop: [], start: ["c"], drop: [] },
      one_for_all: { stop: ["d", "a"], start: ["c", "d"], drop: ["a"] },
      rest_for_one: { stop: ["d"], start: ["c", "d"], drop: [] },
    },
    giveUp: ["d", "a"],
  },
];

Deno.test("decide(): every strategy × restart type × exit reason follows OTP (63 cases, two layouts)", () => {
  let cases = 0;
  for (const layout of LAYOUTS) {
    for (const strategy of STRATEGIES) {
      for (const type of TYPES) {
        for (const kind of KINDS) {
          const label = `${layout.label} ${strategy}/${type}/${kind}`;
          const history = [500];
          const d = decide(
            input(strategy, layout.children(type), layout.ended, {
              reason: reason(kind),
              history,
              now: 1_000,
            }),
          );
          if (RESTARTS[type][kind]) {
            const r = restartOf(d);
            const want = layout.restart[strategy];
            assert.deepEqual(r.stop, want.stop, `${label}: stop`);
            assert.deepEqual(r.start, want.start, `${label}: start`);
            assert.deepEqual(r.drop, want.drop, `${label}: drop`);
            assert.deepEqual(r.history, [500, 1_000], `${label}: history`);
          } else {
            assert.deepEqual(d, { kind: "leave", history: [500] }, label);
          }
          cases++;
        }
      }
    }
  }
  assert.equal(cases, 2 * 63);
});

Deno.test("decide(): an exceeded intensity gives up the same way in every strategy × type × reason that restarts", () => {
  for (const layout of LAYOUTS) {
    for (const strategy of STRATEGIES) {
      for (const type of TYPES) {
        for (const kind of KINDS) {
          const label = `${layout.label} ${strategy}/${type}/${kind}`;
          const d = decide({
            spec: { strategy, intensity: 1, period: 1_000 },
            children: layout.children(type),
            ended: layout.ended,
            reason: reason(kind),
            history: [900],
            now: 1_000,
          });
          if (RESTARTS[type][kind]) {
            assert.deepEqual(
              d,
              { kind: "give_up", stop: layout.giveUp, why: "intensity", history: [900, 1_000] },
              label,
            );
          } else {
            assert.deepEqual(d, { kind: "leave", history: [900] }, label);
          }
        }
      }
    }
  }
});

// --- position of the ended child ---------------------------------------------------------------

const four = (): ChildView[] => [
  { name: "a", restart: "permanent", alive: true },
  { name: "b", restart: "transient", alive: true },
  { name: "c", restart: "temporary", alive: true },
  { name: "d", restart: "permanent", alive: true },
];

function endedAt(name: string): ChildView[] {
  return four().map((c) => c.name === name ? { ...c, restart: "permanent", alive: false } : c);
}

Deno.test("decide(): the ended child first — rest_for_one and one_for_all both restart every sibling", () => {
  const children = endedAt("a");
  assert.deepEqual(restartOf(decide(input("one_for_one", children, "a"))), {
    kind: "restart",
    stop: [],
    start: ["a"],
    drop: [],
    history: [1_000],
  });
  for (const strategy of ["one_for_all", "rest_for_one"] as const) {
    const r = restartOf(decide(input(strategy, children, "a")));
    assert.deepEqual(r.stop, ["d", "c", "b"], strategy);
    assert.deepEqual(r.start, ["a", "b", "d"], strategy);
    assert.deepEqual(r.drop, ["c"], strategy);
  }
});

Deno.test("decide(): the ended child last — rest_for_one restarts it alone, one_for_all restarts all", () => {
  const children = endedAt("d");
  for (const strategy of ["one_for_one", "rest_for_one"] as const) {
    assert.deepEqual(restartOf(decide(input(strategy, children, "d"))), {
      kind: "restart",
      stop: [],
      start: ["d"],
      drop: [],
      history: [1_000],
    }, strategy);
  }
  const r = restartOf(decide(input("one_for_all", children, "d")));
  assert.deepEqual(r.stop, ["c", "b", "a"]);
  assert.deepEqual(r.start, ["a", "b", "d"]);
  assert.deepEqual(r.drop, ["c"]);
});

Deno.test("decide(): the only child restarts alone in every strategy", () => {
  for (const strategy of STRATEGIES) {
    const d = decide(
      input(strategy, [{ name: "solo", restart: "permanent", alive: false }], "solo"),
    );
    assert.deepEqual(d, { kind: "restart", stop: [], start: ["solo"], drop: [], history: [1_000] });
  }
});

// --- liveness and held siblings ----------------------------------------------------------------

Deno.test("decide(): siblings that are not alive are not stopped but are started (unless temporary)", () => {
  const children: ChildView[] = [
    { name: "a", restart: "permanent", alive: false },
    { name: "b", restart: "permanent", alive: false },
    { name: "c", restart: "transient", alive: false },
    { name: "d", restart: "temporary", alive: false },
    { name: "e", restart: "permanent", alive: true },
  ];
  const all = restartOf(decide(input("one_for_all", children, "b")));
  assert.deepEqual(all.stop, ["e"]);
  assert.deepEqual(all.start, ["a", "b", "c", "e"]);
  assert.deepEqual(all.drop, ["d"]);
  const rest = restartOf(decide(input("rest_for_one", children, "b")));
  assert.deepEqual(rest.stop, ["e"]);
  assert.deepEqual(rest.start, ["b", "c", "e"]);
  assert.deepEqual(rest.drop, ["d"]);
  const one = restartOf(decide(input("one_for_one", children, "b")));
  assert.deepEqual([one.stop, one.start, one.drop], [[], ["b"], []]);
});

Deno.test("decide(): a held sibling is neither stopped nor started nor dropped, even if reported alive", () => {
  const children: ChildView[] = [
    { name: "a", restart: "permanent", alive: true, held: true },
    { name: "b", restart: "permanent", alive: false },
    { name: "c", restart: "permanent", alive: true, held: true },
    { name: "d", restart: "temporary", alive: true, held: true },
  ];
  for (const strategy of STRATEGIES) {
    assert.deepEqual(decide(input(strategy, children, "b")), {
      kind: "restart",
      stop: [],
      start: ["b"],
      drop: [],
      history: [1_000],
    }, strategy);
  }
  // Giving up stops every live child, held ones included (OTP stops all children).
  const g = giveUpOf(
    decide(
      input("one_for_all", children, "b", {
        spec: { ...roomy, strategy: "one_for_all", intensity: 0 },
      }),
    ),
  );
  assert.deepEqual(g.stop, ["d", "c", "a"]);
});

Deno.test("decide(): the ended child is restarted even when it is itself marked held", () => {
  const children: ChildView[] = [
    { name: "a", restart: "permanent", alive: true },
    { name: "b", restart: "permanent", alive: false, held: true },
    { name: "c", restart: "permanent", alive: true },
  ];
  const r = restartOf(decide(input("one_for_all", children, "b")));
  assert.deepEqual([r.stop, r.start, r.drop], [["c", "a"], ["a", "b", "c"], []]);
});

Deno.test("decide(): rest_for_one never touches siblings started before the ended child", () => {
  const children: ChildView[] = [
    { name: "a", restart: "temporary", alive: true },
    { name: "b", restart: "transient", alive: true },
    { name: "c", restart: "permanent", alive: false },
    { name: "d", restart: "transient", alive: true },
  ];
  const r = restartOf(decide(input("rest_for_one", children, "c")));
  assert.deepEqual([r.stop, r.start, r.drop], [["d"], ["c", "d"], []]);
});

Deno.test("decide(): a live transient sibling stopped by a restart is started again (it did not end normally)", () => {
  const children: ChildView[] = [
    { name: "a", restart: "transient", alive: true },
    { name: "b", restart: "permanent", alive: false },
    { name: "c", restart: "transient", alive: true },
  ];
  const r = restartOf(decide(input("one_for_all", children, "b")));
  assert.deepEqual([r.stop, r.start, r.drop], [["c", "a"], ["a", "b", "c"], []]);
});

Deno.test("decide(): an unknown ended name throws RangeError", () => {
  for (const strategy of STRATEGIES) {
    assert.throws(() => decide(input(strategy, four(), "zz")), RangeError);
    assert.throws(() => decide(input(strategy, [], "a")), RangeError);
  }
  // Even when the decision would not need the child (escalate).
  assert.throws(
    () => decide(input("one_for_one", four(), "zz", { action: "escalate" })),
    RangeError,
  );
});

// --- intensity ---------------------------------------------------------------------------------

function simulate(
  spec: ChildEnded["spec"],
  times: number[],
): { decisions: Decision[]; history: readonly number[] } {
  const children: ChildView[] = [
    { name: "a", restart: "permanent", alive: true },
    { name: "b", restart: "permanent", alive: false },
    { name: "c", restart: "transient", alive: true },
  ];
  let history: readonly number[] = [];
  const decisions: Decision[] = [];
  for (const now of times) {
    const d = decide({ spec, children, ended: "b", reason: crash, history, now });
    decisions.push(d);
    history = d.history;
  }
  return { decisions, history };
}

Deno.test("decide(): with intensity N the (N+1)-th restart within period gives up, stopping every live sibling in reverse", () => {
  for (const strategy of STRATEGIES) {
    const { decisions } = simulate({ strategy, intensity: 3, period: 1_000 }, [0, 10, 20, 30]);
    assert.deepEqual(decisions.slice(0, 3).map((d) => d.kind), ["restart", "restart", "restart"]);
    assert.deepEqual(decisions.slice(0, 3).map((d) => d.history), [[0], [0, 10], [0, 10, 20]]);
    assert.deepEqual(decisions[3], {
      kind: "give_up",
      stop: ["c", "a"],
      why: "intensity",
      history: [0, 10, 20, 30],
    }, strategy);
  }
});

Deno.test("decide(): intensity 0 gives up on the first restart", () => {
  for (const strategy of STRATEGIES) {
    const { decisions } = simulate({ strategy, intensity: 0, period: 1_000 }, [5]);
    assert.deepEqual(decisions[0], {
      kind: "give_up",
      stop: ["c", "a"],
      why: "intensity",
      history: [5],
    });
  }
});

Deno.test("decide(): restarts spaced beyond period never give up (sliding window)", () => {
  const { decisions, history } = simulate(
    { strategy: "one_for_all", intensity: 1, period: 1_000 },
    Array.from({ length: 50 }, (_, i) => i * 1_001),
  );
  assert.ok(decisions.every((d) => d.kind === "restart"));
  assert.deepEqual(history, [49 * 1_001]);
});

Deno.test("decide(): a restart exactly period ms old still counts, one ms older does not (OTP's R >= Now - Period)", () => {
  const spec = { strategy: "one_for_one" as const, intensity: 1, period: 1_000 };
  // Exactly 1000 ms apart: still inside the window, the second restart exceeds intensity 1.
  assert.deepEqual(simulate(spec, [0, 1_000]).decisions[1], {
    kind: "give_up",
    stop: ["c", "a"],
    why: "intensity",
    history: [0, 1_000],
  });
  // 1001 ms apart: the old one has left the window.
  const past = simulate(spec, [0, 1_001]).decisions[1];
  assert.deepEqual(restartOf(past).history, [1_001]);
});

Deno.test("decide(): the window slides — only restarts younger than period count", () => {
  const spec = { strategy: "one_for_one" as const, intensity: 2, period: 1_000 };
  // 0, 500, 1001 (0 dropped: [500, 1001]), 1500 → [500, 1001, 1500] exceeds 2.
  const a = simulate(spec, [0, 500, 1_001, 1_500]);
  assert.deepEqual(a.decisions.map((d) => d.kind), ["restart", "restart", "restart", "give_up"]);
  assert.deepEqual(a.decisions[2].history, [500, 1_001]);
  assert.deepEqual(a.history, [500, 1_001, 1_500]);
  // Same, but the last at 1501: 500 has left the window → [1001, 1501], fine.
  const b = simulate(spec, [0, 500, 1_001, 1_501]);
  assert.deepEqual(b.decisions.map((d) => d.kind), ["restart", "restart", "restart", "restart"]);
  assert.deepEqual(b.history, [1_001, 1_501]);
});

Deno.test("decide(): a restart counts once toward intensity however many children it restarts", () => {
  const children: ChildView[] = [
    { name: "a", restart: "permanent", alive: true },
    { name: "b", restart: "permanent", alive: false },
    { name: "c", restart: "permanent", alive: true },
    { name: "d", restart: "permanent", alive: true },
  ];
  const d = restartOf(
    decide(input("one_for_all", children, "b", { history: [100], now: 200 })),
  );
  assert.deepEqual(d.start, ["a", "b", "c", "d"]);
  assert.deepEqual(d.history, [100, 200]);
});

Deno.test("decide(): leave decisions do not add to history (transient normal, temporary anything, action stop)", () => {
  const spec = { strategy: "one_for_all" as const, intensity: 0, period: 10_000 };
  const history = [9_000];
  const base = (restart: RestartType, kind: ExitReason["kind"], action?: ChildEnded["action"]) =>
    decide({
      spec,
      children: [
        { name: "a", restart: "permanent", alive: true },
        { name: "b", restart, alive: false },
      ],
      ended: "b",
      reason: reason(kind),
      action,
      history,
      now: 10_000,
    });
  // intensity 0 would give up on any counted restart: leave proves nothing was counted.
  for (const kind of ["normal", "stopped"] as const) {
    assert.deepEqual(base("transient", kind), { kind: "leave", history: [9_000] }, kind);
  }
  for (const kind of KINDS) {
    assert.deepEqual(base("temporary", kind), { kind: "leave", history: [9_000] }, kind);
    for (const type of TYPES) {
      assert.deepEqual(
        base(type, kind, "stop"),
        { kind: "leave", history: [9_000] },
        `stop ${type}/${kind}`,
      );
    }
  }
});

Deno.test("decide(): a leave between failures does not reset nor extend the window", () => {
  const spec = { strategy: "one_for_one" as const, intensity: 1, period: 1_000 };
  const children: ChildView[] = [
    { name: "p", restart: "permanent", alive: false },
    { name: "t", restart: "transient", alive: true },
  ];
  let history: readonly number[] = [];
  const step = (ended: string, kind: ExitReason["kind"], now: number) => {
    const d = decide({ spec, children, ended, reason: reason(kind), history, now });
    history = d.history;
    return d;
  };
  assert.equal(step("p", "crashed", 0).kind, "restart");
  assert.equal(step("t", "normal", 100).kind, "leave");
  assert.equal(step("t", "stopped", 200).kind, "leave");
  assert.deepEqual(history, [0]);
  assert.equal(step("p", "crashed", 300).kind, "give_up");
});

// --- on_error actions --------------------------------------------------------------------------

Deno.test("decide(): action escalate gives up at once for every type and reason, without adding to history", () => {
  for (const layout of LAYOUTS) {
    for (const strategy of STRATEGIES) {
      for (const type of TYPES) {
        for (const kind of KINDS) {
          const history = [1, 2];
          const d = decide(
            input(strategy, layout.children(type), layout.ended, {
              reason: reason(kind),
              action: "escalate",
              history,
            }),
          );
          assert.deepEqual(
            d,
            { kind: "give_up", stop: layout.giveUp, why: "escalate", history: [1, 2] },
            `${layout.label} ${strategy}/${type}/${kind}`,
          );
        }
      }
    }
  }
});

Deno.test("decide(): action escalate on a temporary child gives up even with intensity to spare", () => {
  const d = giveUpOf(
    decide({
      spec: { strategy: "one_for_one", intensity: 1_000, period: 1 },
      children: [
        { name: "a", restart: "permanent", alive: true },
        { name: "tmp", restart: "temporary", alive: false },
        { name: "c", restart: "permanent", alive: true },
      ],
      ended: "tmp",
      reason: crash,
      action: "escalate",
      history: [],
      now: 0,
    }),
  );
  assert.deepEqual([d.why, d.stop, d.history], ["escalate", ["c", "a"], []]);
});

Deno.test("decide(): action stop leaves even a permanent child that crashed", () => {
  for (const strategy of STRATEGIES) {
    assert.deepEqual(
      decide(input(strategy, endedAt("a"), "a", { action: "stop", history: [3] })),
      { kind: "leave", history: [3] },
    );
  }
});

Deno.test("decide(): action restart does not override the restart type (transient normal and temporary still leave)", () => {
  const children: ChildView[] = [
    { name: "a", restart: "permanent", alive: true },
    { name: "t", restart: "transient", alive: false },
    { name: "x", restart: "temporary", alive: false },
  ];
  for (const strategy of STRATEGIES) {
    for (const kind of ["normal", "stopped"] as const) {
      assert.deepEqual(
        decide(input(strategy, children, "t", { reason: reason(kind), action: "restart" })),
        { kind: "leave", history: [] },
        `${strategy} transient/${kind}`,
      );
    }
    assert.deepEqual(
      decide(input(strategy, children, "x", { action: "restart" })),
      { kind: "leave", history: [] },
      `${strategy} temporary/error`,
    );
    // And where the type restarts anyway, action restart is the same as no action.
    assert.deepEqual(
      decide(input(strategy, children, "t", { action: "restart" })),
      decide(input(strategy, children, "t")),
      `${strategy} transient/error`,
    );
  }
});

Deno.test("decide(): does not mutate its inputs", () => {
  const children = Object.freeze(four().map((c) => Object.freeze(c)));
  const history = Object.freeze([900]);
  for (const strategy of STRATEGIES) {
    decide({
      spec: { strategy, intensity: 5, period: 1_000 },
      children,
      ended: "b",
      reason: crash,
      history,
      now: 1_000,
    });
  }
  assert.deepEqual(history, [900]);
});

// --- stopOrder ---------------------------------------------------------------------------------

Deno.test("stopOrder(): the reverse of start order, without touching its input", () => {
  const names = ["a", "b", "c", "d"];
  assert.deepEqual(stopOrder(names), ["d", "c", "b", "a"]);
  assert.deepEqual(names, ["a", "b", "c", "d"]);
  assert.notEqual(stopOrder(names), names);
  assert.deepEqual(stopOrder([]), []);
  assert.deepEqual(stopOrder(["solo"]), ["solo"]);
});

Deno.test("STRATEGY_NAMES lists the three OTP strategies", () => {
  assert.deepEqual([...STRATEGY_NAMES], STRATEGIES);
});
