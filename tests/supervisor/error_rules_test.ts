// on_error rules: the class names of a thrown error, and the verdict (first match, built-ins, default).
import assert from "node:assert/strict";
import {
  BUILTIN_ERROR_RULES,
  ERROR_ACTIONS,
  errorClasses,
  type ErrorRule,
  verdictFor,
} from "../../supervisor/error_rules.ts";

class A extends Error {}
class B extends A {}

// --- errorClasses ------------------------------------------------------------------------------

Deno.test("errorClasses(): a plain Error is just Error", () => {
  assert.deepEqual(errorClasses(new Error("x")), ["Error"]);
});

Deno.test("errorClasses(): a built-in subclass lists itself then Error", () => {
  assert.deepEqual(errorClasses(new TypeError("x")), ["TypeError", "Error"]);
  assert.deepEqual(errorClasses(new RangeError("x")), ["RangeError", "Error"]);
});

Deno.test("errorClasses(): a user subclass chain lists every ancestor, own class first", () => {
  assert.deepEqual(errorClasses(new A("x")), ["A", "Error"]);
  assert.deepEqual(errorClasses(new B("x")), ["B", "A", "Error"]);
});

Deno.test("errorClasses(): a customised name property counts as the most specific class", () => {
  const e = new Error("x");
  e.name = "DbError";
  assert.deepEqual(errorClasses(e), ["DbError", "Error"]);

  class Named extends A {
    constructor(message: string) {
      super(message);
      this.name = "NamedInCtor";
    }
  }
  assert.deepEqual(errorClasses(new Named("x")), ["NamedInCtor", "Named", "A", "Error"]);

  // A name equal to a class already in the chain is not repeated.
  const b = new B("x");
  b.name = "A";
  assert.deepEqual(errorClasses(b), ["B", "A", "Error"]);
});

Deno.test("errorClasses(): Deno.errors.NotCapable and PermissionDenied list their own class then Error", () => {
  assert.deepEqual(errorClasses(new Deno.errors.NotCapable("x")), ["NotCapable", "Error"]);
  assert.deepEqual(errorClasses(new Deno.errors.PermissionDenied("x")), [
    "PermissionDenied",
    "Error",
  ]);
});

Deno.test("errorClasses(): non-objects have no classes", () => {
  assert.deepEqual(errorClasses("boom"), []);
  assert.deepEqual(errorClasses(undefined), []);
  assert.deepEqual(errorClasses(null), []);
  assert.deepEqual(errorClasses(42), []);
});

Deno.test("errorClasses(): a plain object has no classes, a null-prototype one only its name", () => {
  assert.deepEqual(errorClasses({}), []);
  const bare = Object.assign(Object.create(null), { name: "Wire" });
  assert.deepEqual(errorClasses(bare), ["Wire"]);
});

// --- verdictFor --------------------------------------------------------------------------------

Deno.test("verdictFor(): the first matching user rule wins, and its index is returned", () => {
  const rules: ErrorRule[] = [
    { match: ["RangeError"], action: "resume", log: false },
    { match: ["TypeError"], action: "stop", log: true },
    { match: ["TypeError"], action: "escalate", log: false },
  ];
  assert.deepEqual(verdictFor(rules, ["TypeError", "Error"]), {
    action: "stop",
    log: true,
    rule: 1,
  });
  assert.deepEqual(verdictFor(rules, ["RangeError", "Error"]), {
    action: "resume",
    log: false,
    rule: 0,
  });
});

Deno.test("verdictFor(): a rule matches any of its listed names", () => {
  const rules: ErrorRule[] = [
    { match: ["Nope"], action: "stop", log: false },
    { match: ["Other", "TypeError"], action: "escalate", log: true },
  ];
  assert.deepEqual(verdictFor(rules, ["TypeError", "Error"]), {
    action: "escalate",
    log: true,
    rule: 1,
  });
});

Deno.test("verdictFor(): a rule on an ancestor matches a subclass error", () => {
  const rules: ErrorRule[] = [{ match: ["A"], action: "resume", log: true }];
  assert.deepEqual(verdictFor(rules, errorClasses(new B("x"))), {
    action: "resume",
    log: true,
    rule: 0,
  });
  // But not the other way round: a rule on B does not match an A.
  const onB: ErrorRule[] = [{ match: ["B"], action: "resume", log: true }];
  assert.deepEqual(verdictFor(onB, errorClasses(new A("x"))), {
    action: "restart",
    log: false,
    rule: -1,
  });
});

Deno.test("verdictFor(): the first match wins even when a later rule is more specific", () => {
  const rules: ErrorRule[] = [
    { match: ["Error"], action: "stop", log: false },
    { match: ["B"], action: "resume", log: false },
  ];
  assert.deepEqual(verdictFor(rules, errorClasses(new B("x"))), {
    action: "stop",
    log: false,
    rule: 0,
  });
});

Deno.test("verdictFor(): * matches anything, even no classes at all", () => {
  const rules: ErrorRule[] = [
    { match: ["Specific"], action: "stop", log: false },
    { match: ["*"], action: "escalate", log: true },
  ];
  for (
    const classes of [["TypeError", "Error"], ["B", "A", "Error"], [], ["NotCapable", "Error"]]
  ) {
    assert.deepEqual(
      verdictFor(rules, classes),
      { action: "escalate", log: true, rule: 1 },
      classes.join(),
    );
  }
  assert.equal(verdictFor(rules, ["Specific"]).rule, 0);
});

Deno.test("verdictFor(): user rules come before the built-ins (a user rule on NotCapable can resume)", () => {
  const rules: ErrorRule[] = [{ match: ["NotCapable"], action: "resume", log: false }];
  assert.deepEqual(verdictFor(rules, errorClasses(new Deno.errors.NotCapable("x"))), {
    action: "resume",
    log: false,
    rule: 0,
  });
  // The same rules leave PermissionDenied to the built-in.
  assert.deepEqual(verdictFor(rules, errorClasses(new Deno.errors.PermissionDenied("x"))), {
    action: "stop",
    log: true,
    rule: -1,
  });
});

Deno.test("verdictFor(): built-in PermissionDenied and NotCapable stop with log and rule -1", () => {
  for (const error of [new Deno.errors.PermissionDenied("x"), new Deno.errors.NotCapable("x")]) {
    const want = { action: "stop", log: true, rule: -1 };
    assert.deepEqual(verdictFor([], errorClasses(error)), want, error.name);
    const unrelated: ErrorRule[] = [{ match: ["TypeError"], action: "resume", log: false }];
    assert.deepEqual(verdictFor(unrelated, errorClasses(error)), want, error.name);
  }
});

Deno.test("verdictFor(): no match restarts without logging, rule -1", () => {
  const want = { action: "restart", log: false, rule: -1 };
  assert.deepEqual(verdictFor([], ["Error"]), want);
  assert.deepEqual(verdictFor([], []), want);
  const rules: ErrorRule[] = [{ match: ["RangeError"], action: "stop", log: true }];
  assert.deepEqual(verdictFor(rules, ["TypeError", "Error"]), want);
});

Deno.test("verdictFor(): matching is by exact, case-sensitive class name", () => {
  const rules: ErrorRule[] = [{ match: ["typeerror", "Type"], action: "stop", log: true }];
  assert.equal(verdictFor(rules, ["TypeError", "Error"]).action, "restart");
});

Deno.test("BUILTIN_ERROR_RULES is frozen and ERROR_ACTIONS lists the four actions", () => {
  assert.ok(Object.isFrozen(BUILTIN_ERROR_RULES));
  assert.ok(Object.isFrozen(BUILTIN_ERROR_RULES[0]));
  assert.deepEqual([...ERROR_ACTIONS], ["restart", "resume", "stop", "escalate"]);
});
