// Topology validation: defaults, and errors that name file, line and key.
import assert from "node:assert/strict";
import { DEFAULTS, loadTopology, TopologyError, validateTopology } from "../../mod.ts";

const base = { baseUrl: "file:///app/" };

Deno.test("validateTopology() fills every default from DEFAULTS", () => {
  const t = validateTopology({ containers: { a: { module: "./a.ts" } } }, base);
  assert.equal(t.name, "kraken");
  assert.deepEqual(t.supervisor, {
    ...DEFAULTS.supervisor,
    backoff: { ...DEFAULTS.supervisor.backoff },
  });
  const a = t.containers[0];
  assert.equal(a.module, "file:///app/a.ts");
  assert.equal(a.mode, "worker");
  assert.equal(a.replicas, 1);
  assert.equal(a.restart, "permanent");
  assert.equal(a.shutdown, 5000);
  assert.deepEqual(a.permissions, {});
});

Deno.test("validateTopology() nests children with their supervisor, rules and buffer", () => {
  const t = validateTopology({
    containers: {
      billing: {
        module: "./billing.ts",
        mode: "process",
        permissions: { net: ["127.0.0.1"] },
        supervisor: { strategy: "rest_for_one", intensity: 2 },
        on_error: [{ match: ["DbError", "TimeoutError"], action: ["log", "resume"] }],
        children: {
          ledger: { module: "./ledger.ts", mode: "inline", buffer: 10 },
          mailer: { module: "./mailer.ts", permissions: { net: ["127.0.0.1:25"] } },
        },
      },
    },
  }, base);
  const billing = t.containers[0];
  assert.equal(billing.supervisor.strategy, "rest_for_one");
  assert.equal(billing.supervisor.intensity, 2);
  assert.deepEqual(billing.onError, [{
    match: ["DbError", "TimeoutError"],
    action: "resume",
    log: true,
  }]);
  assert.deepEqual(billing.children.map((c) => [c.name, c.mode, c.buffer]), [
    ["ledger", "inline", 10],
    ["mailer", "worker", DEFAULTS.container.buffer],
  ]);
  assert.equal(billing.children[1].module, "file:///app/mailer.ts");
});

Deno.test("validateTopology() parses durations, resolves permission paths and reads ${VAR}", () => {
  const t = validateTopology({
    supervisor: { period: "2m", backoff: { min: "10ms", max: "1.5s" } },
    containers: {
      a: {
        module: "./a.ts",
        shutdown: "250ms",
        permissions: { read: ["./public", "/etc"], net: "${HOSTPORT}" },
      },
    },
  }, { ...base, env: (name) => (name === "HOSTPORT" ? "127.0.0.1:80" : undefined) });
  assert.equal(t.supervisor.period, 120_000);
  assert.deepEqual(t.supervisor.backoff, { min: 10, max: 1500, jitter: 0.2 });
  assert.equal(t.containers[0].shutdown, 250);
  assert.deepEqual(t.containers[0].permissions, {
    read: ["/app/public", "/etc"],
    net: ["127.0.0.1:80"],
  });
});

const bad: [string, unknown, string, RegExp][] = [
  [
    "unknown top key",
    { containers: {}, contaners: {} },
    "contaners",
    /unknown key "contaners" \(did you mean "containers"\?\)/,
  ],
  ["missing containers", {}, "containers", /key is missing/],
  [
    "bad mode",
    { containers: { a: { module: "a.ts", mode: "thread" } } },
    "containers.a.mode",
    /expected one of inline, worker, process, remote, got "thread"/,
  ],
  [
    "remote not yet",
    { containers: { a: { module: "a.ts", mode: "remote" } } },
    "containers.a.mode",
    /host agents/,
  ],
  [
    "bad replicas",
    { containers: { a: { module: "a.ts", replicas: -1 } } },
    "containers.a.replicas",
    /whole number >= 0/,
  ],
  [
    "bad duration",
    { containers: { a: { module: "a.ts", shutdown: "soon" } } },
    "containers.a.shutdown",
    /duration/,
  ],
  [
    "bad balance",
    { containers: { a: { module: "a.ts", balance: "round-robin" } } },
    "containers.a.balance",
    /did you mean "round_robin"/,
  ],
  [
    "bad restart",
    { containers: { a: { module: "a.ts", restart: "always" } } },
    "containers.a.restart",
    /permanent, transient, temporary/,
  ],
  [
    "missing module",
    { containers: { a: { mode: "worker" } } },
    "containers.a.module",
    /expected a module path/,
  ],
  [
    "bad name",
    { containers: { "9lives": { module: "a.ts" } } },
    "containers.9lives",
    /must start with a letter/,
  ],
  [
    "bad strategy",
    { supervisor: { strategy: "one4one" }, containers: {} },
    "supervisor.strategy",
    /one_for_one/,
  ],
  [
    "jitter range",
    { supervisor: { backoff: { jitter: 2 } }, containers: {} },
    "supervisor.backoff.jitter",
    /0 to 1/,
  ],
  [
    "max below min",
    { supervisor: { backoff: { min: "2s", max: "1s" } }, containers: {} },
    "supervisor.backoff.max",
    /below backoff.min/,
  ],
  ["unset env", { name: "${NOPE_UNSET}", containers: {} }, "name", /\$\{NOPE_UNSET\} is not set/],
  [
    "permission list item",
    { containers: { a: { module: "a.ts", permissions: { read: [1] } } } },
    "containers.a.permissions.read[0]",
    /non-empty string/,
  ],
  [
    "unknown permission",
    { containers: { a: { module: "a.ts", permissions: { fs: true } } } },
    "containers.a.permissions.fs",
    /unknown permission "fs"/,
  ],
  [
    "a process child under a worker",
    { containers: { a: { module: "a.ts", children: { b: { module: "b.ts", mode: "process" } } } } },
    "containers.a.children.b.mode",
    /a process child cannot run under a worker container \("a"\).*"run" permission/,
  ],
  [
    "a child asking for more than its parent holds",
    {
      containers: {
        a: {
          module: "a.ts",
          mode: "process",
          permissions: { read: ["/srv"] },
          children: { b: { module: "b.ts", permissions: { read: ["/etc"] } } },
        },
      },
    },
    "containers.a.children.b.permissions.read",
    /asks for read "\/etc", which its parent "a" does not have/,
  ],
  [
    "a child name used elsewhere in the tree",
    {
      containers: {
        a: { module: "a.ts", children: { b: { module: "b.ts" } } },
        b: { module: "b.ts" },
      },
    },
    "containers.b",
    /"b" is already used at containers\.a\.children\.b; names are unique across the whole topology/,
  ],
  [
    "an on_error rule with two actions",
    {
      containers: { a: { module: "a.ts", on_error: [{ match: "X", action: ["stop", "resume"] }] } },
    },
    "containers.a.on_error.0.action",
    /combines "stop" and "resume"/,
  ],
  [
    "an on_error rule with an unknown action",
    { containers: { a: { module: "a.ts", on_error: [{ match: "X", action: "restrat" }] } } },
    "containers.a.on_error.0.action",
    /did you mean "restart"/,
  ],
  [
    "an on_error rule without match",
    { containers: { a: { module: "a.ts", on_error: [{ action: "stop" }] } } },
    "containers.a.on_error.0.match",
    /expected an error class name/,
  ],
  [
    "a negative buffer",
    { containers: { a: { module: "a.ts", buffer: -1 } } },
    "containers.a.buffer",
    /whole number >= 0/,
  ],
  [
    "transports without a secret",
    { transports: { listen: "tcp://127.0.0.1:7070" }, containers: {} },
    "transports.secret",
    /links between runtimes need a shared secret/,
  ],
  [
    "hosts without transports",
    { hosts: { a: { address: "tcp://10.0.0.2:7070" } }, containers: {} },
    "transports",
    /hosts: needs a transports: block with the shared secret/,
  ],
  [
    "a host address that is not a URL",
    { transports: { secret: "s" }, hosts: { a: { address: "10.0.0.2" } }, containers: {} },
    "hosts.a.address",
    /expected a URL such as tcp:\/\/127.0.0.1:7070, got "10.0.0.2"/,
  ],
  [
    "an unknown transports key",
    { transports: { secret: "s", lisen: "tcp://x:1" }, containers: {} },
    "transports.lisen",
    /did you mean "listen"/,
  ],
  [
    "a max_frame with an unknown unit",
    { transports: { secret: "s", max_frame: "16MB" }, containers: {} },
    "transports.max_frame",
    /expected a size between 1KiB and 2GiB such as 65536, 64KiB or 16MiB, got "16MB"/,
  ],
  [
    "a max_frame too small for a handshake",
    { transports: { secret: "s", max_frame: 100 }, containers: {} },
    "transports.max_frame",
    /expected a size between 1KiB and 2GiB/,
  ],
  [
    "management not yet",
    { management: {}, containers: {} },
    "management",
    /not supported by this version/,
  ],
];

for (const [what, input, key, message] of bad) {
  Deno.test(`validateTopology() rejects ${what}, naming the key`, () => {
    const error = (() => {
      try {
        validateTopology(input, base);
      } catch (e) {
        return e;
      }
    })() as TopologyError;
    assert.ok(error instanceof TopologyError, what);
    assert.equal(error.key, key);
    assert.match(error.message, message);
  });
}

Deno.test("loadTopology() names the file, line and column of a bad key in YAML", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.ts`, "export default 1;\n");
    await Deno.writeTextFile(
      `${dir}/kraken.yaml`,
      "name: shop\ncontainers:\n  a:\n    module: ./a.ts\n    replicas: many\n",
    );
    const error = await loadTopology(`${dir}/kraken.yaml`).catch((e) => e);
    assert.ok(error instanceof TopologyError);
    assert.equal(error.line, 5);
    assert.equal(error.column, 5);
    assert.match(
      error.message,
      /kraken\.yaml:5:5: containers\.a\.replicas: expected a whole number/,
    );
    await Deno.writeTextFile(`${dir}/bad.yaml`, "containers:\n  a: [1, 2\n");
    const malformed = await loadTopology(`${dir}/bad.yaml`).catch((e) => e);
    assert.ok(malformed instanceof TopologyError);
    assert.match(malformed.message, /bad\.yaml:\d+:\d+: malformed YAML/);
    const missing = await loadTopology(`${dir}/nope.yaml`).catch((e) => e);
    assert.match(missing.message, /cannot read the topology file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
