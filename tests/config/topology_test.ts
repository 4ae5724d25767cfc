// Topology validation: defaults, management:, ${VAR}, and errors that name the key and say what
// was expected (exact messages; the file cases are in topology_files_test.ts).
import assert from "node:assert/strict";
import {
  DEFAULTS,
  loadTopology,
  TopologyError,
  validateContainer,
  validateTopology,
} from "../../mod.ts";
import { parseListenAddress } from "../../config/topology.ts";
import { suggest } from "../../config/_suggest.ts";

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
  assert.deepEqual(a.unstable, []);
});

Deno.test("validateTopology() reads unstable: as a list of Deno's feature names, one name as a list", () => {
  const t = validateTopology({
    containers: {
      a: { module: "./a.ts", mode: "process", unstable: ["net", "kv", "net"] },
      b: { module: "./b.ts", unstable: "cron" as unknown as string[] },
      c: {
        module: "./c.ts",
        mode: "process",
        unstable: ["kv"],
        children: { d: { module: "./d.ts", unstable: ["kv"] } },
      },
    },
  }, base);
  assert.deepEqual(t.containers.map((c) => c.unstable), [["net", "kv"], ["cron"], ["kv"]]);
  assert.deepEqual(t.containers[2].children[0].unstable, ["kv"]);
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

const KEYS_OF_CONTAINER =
  "module, mode, replicas, balance, restart, shutdown, keepalive, permissions, unstable, config, host, placement, hosts, max_per_host, rebalance, runs_as, on_error, buffer, max_memory, supervisor, children, serve, entities";
const LISTEN = `expected "host:port", "port" or ":port" such as 127.0.0.1:9090`;

/** [what, input, key, the whole message]: object topologies name the key path, never a line. */
const bad: [string, unknown, string, string][] = [
  [
    "an unknown top-level key, suggesting the close one",
    { containers: {}, contaners: {} },
    "contaners",
    'unknown key "contaners" (did you mean "containers"?); expected one of name, supervisor, containers, transports, management, hosts, placement, schedule, leadership',
  ],
  [
    "a camelCase spelling of a snake_case key",
    { transports: { secret: "s", maxFrame: "1MiB" }, containers: {} },
    "transports.maxFrame",
    'unknown key "maxFrame" (did you mean "max_frame"?); expected one of name, listen, secret, tls, keepalive, max_frame, nats',
  ],
  [
    "a key written with capitals",
    { containers: { a: { Module: "./a.ts" } } },
    "containers.a.Module",
    `unknown key "Module" (did you mean "module"?); expected one of ${KEYS_OF_CONTAINER}`,
  ],
  [
    "onError for on_error",
    { containers: { a: { module: "a.ts", onError: [] } } },
    "containers.a.onError",
    `unknown key "onError" (did you mean "on_error"?); expected one of ${KEYS_OF_CONTAINER}`,
  ],
  [
    "a key of two other blocks, naming both",
    { containers: { a: { module: "a.ts", listen: "x" } } },
    "containers.a.listen",
    `unknown key "listen" here (it belongs under transports: or under management:); expected one of ${KEYS_OF_CONTAINER}`,
  ],
  [
    "missing containers",
    {},
    "containers",
    "missing; expected a map of containers, e.g. containers: { api: { module: ./api.ts } }",
  ],
  [
    "containers as a list",
    { containers: [] },
    "containers",
    "expected a map of container names to containers, got a list",
  ],
  [
    "children as a list",
    { containers: { a: { module: "a.ts", children: [] } } },
    "containers.a.children",
    "expected a map of child names to containers, got a list",
  ],
  [
    "a name that is not a string",
    { name: 5, containers: {} },
    "name",
    "expected the application's name, a non-empty string, got number 5",
  ],
  [
    "an unknown mode, listing the modes this version runs",
    { containers: { a: { module: "a.ts", mode: "thread" } } },
    "containers.a.mode",
    'expected one of inline, worker, process, got "thread" (did you mean "worker"?)',
  ],
  [
    "mode remote without any agent",
    { containers: { a: { module: "./a.ts", mode: "remote" } } },
    "containers.a.mode",
    "mode: remote places the container on a host agent; expected at least one agent under hosts: (started with kraken node)",
  ],
  [
    "negative replicas",
    { containers: { a: { module: "a.ts", replicas: -1 } } },
    "containers.a.replicas",
    "expected a whole number >= 0, got number -1",
  ],
  [
    "a bad duration",
    { containers: { a: { module: "a.ts", shutdown: "soon" } } },
    "containers.a.shutdown",
    'expected a duration such as 250ms, 5s or 2m (or a number of milliseconds), got "soon"',
  ],
  [
    "a hyphenated balance",
    { containers: { a: { module: "a.ts", balance: "round-robin" } } },
    "containers.a.balance",
    'expected one of round_robin, random, key_hash, got "round-robin" (did you mean "round_robin"?)',
  ],
  [
    "an unknown restart type",
    { containers: { a: { module: "a.ts", restart: "always" } } },
    "containers.a.restart",
    'expected one of permanent, transient, temporary, got "always" (did you mean "permanent"?)',
  ],
  [
    "a missing module",
    { containers: { a: { mode: "worker" } } },
    "containers.a.module",
    "missing; expected a module path (relative to the topology's folder) or URL, such as ./api.ts",
  ],
  [
    "a container name starting with a digit",
    { containers: { "9lives": { module: "a.ts" } } },
    "containers.9lives",
    'container name "9lives" is not valid; expected a letter, then letters, digits, "_" or "-"',
  ],
  [
    "an unknown strategy",
    { supervisor: { strategy: "one4one" }, containers: {} },
    "supervisor.strategy",
    'expected one of one_for_one, one_for_all, rest_for_one, got "one4one"',
  ],
  [
    "jitter out of range",
    { supervisor: { backoff: { jitter: 2 } }, containers: {} },
    "supervisor.backoff.jitter",
    "expected a number from 0 to 1, got number 2",
  ],
  [
    "backoff.max below backoff.min",
    { supervisor: { backoff: { min: "2s", max: "1s" } }, containers: {} },
    "supervisor.backoff.max",
    'expected a duration >= backoff.min (2000 ms), got "1s"',
  ],
  [
    "an unset ${VAR}, naming it",
    { name: "${NOPE_UNSET}", containers: {} },
    "name",
    "environment variable ${NOPE_UNSET} is not set",
  ],
  [
    "a permission list item that is not a string",
    { containers: { a: { module: "a.ts", permissions: { read: [1] } } } },
    "containers.a.permissions.read[0]",
    "expected a non-empty string without commas, got number 1",
  ],
  [
    "an unknown permission",
    { containers: { a: { module: "a.ts", permissions: { fs: true } } } },
    "containers.a.permissions.fs",
    'unknown permission "fs"; expected one of net, read, write, env, run, ffi, sys, import',
  ],
  [
    "a process child under a worker",
    { containers: { a: { module: "a.ts", children: { b: { module: "b.ts", mode: "process" } } } } },
    "containers.a.children.b.mode",
    'a process child cannot run under a worker container ("a"): starting a process needs the "run" permission, which would let a sandboxed container escape its grant; make "a" inline, or move this child up',
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
    `asks for read "/etc", which its parent "a" does not have; a child runs inside its parent's sandbox and can never be granted more`,
  ],
  [
    "a child needing an unstable feature its parent's process is not started with",
    {
      containers: {
        a: {
          module: "a.ts",
          mode: "process",
          unstable: ["kv"],
          children: { b: { module: "b.ts", unstable: ["kv", "net"] } },
        },
      },
    },
    "containers.a.children.b.unstable[1]",
    `needs unstable feature "net", which its parent "a" does not list; a child runs in its parent's process and shares its Deno flags: add it to the parent's unstable:`,
  ],
  [
    "an unstable: that is not a list of names",
    { containers: { a: { module: "a.ts", unstable: { net: true } } } },
    "containers.a.unstable",
    "expected a list of Deno unstable features such as [net, kv], got a map",
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
    'container name "b" is already used at containers.a.children.b; names are unique across the whole topology, children included',
  ],
  [
    "an on_error rule with two actions",
    {
      containers: { a: { module: "a.ts", on_error: [{ match: "X", action: ["stop", "resume"] }] } },
    },
    "containers.a.on_error[0].action",
    'combines "stop" and "resume": a rule takes one of restart, resume, stop, escalate, plus log',
  ],
  [
    "an on_error rule with an unknown action",
    { containers: { a: { module: "a.ts", on_error: [{ match: "X", action: "restrat" }] } } },
    "containers.a.on_error[0].action",
    'expected one of restart, resume, stop, escalate, log, got "restrat" (did you mean "restart"?)',
  ],
  [
    "an on_error rule without match",
    { containers: { a: { module: "a.ts", on_error: [{ action: "stop" }] } } },
    "containers.a.on_error[0].match",
    'expected an error class name or a list of them (e.g. TypeError, or "*" for any), got nothing',
  ],
  [
    "a negative buffer",
    { containers: { a: { module: "a.ts", buffer: -1 } } },
    "containers.a.buffer",
    "expected a whole number >= 0, got number -1",
  ],
  [
    "transports without a secret",
    { transports: { listen: "tcp://127.0.0.1:7070" }, containers: {} },
    "transports.secret",
    "missing; expected the shared secret links between runtimes prove (e.g. secret: ${KRAKEN_SECRET})",
  ],
  [
    "an empty transports secret, without echoing it",
    { transports: { secret: "" }, containers: {} },
    "transports.secret",
    "expected a non-empty string, got an empty string",
  ],
  [
    "hosts without transports",
    { hosts: { a: { address: "tcp://10.0.0.2:7070" } }, containers: {} },
    "transports",
    "missing; expected a transports: block with the shared secret, since hosts: joins other runtimes",
  ],
  [
    "a host address that is not a URL",
    { transports: { secret: "s" }, hosts: { a: { address: "10.0.0.2" } }, containers: {} },
    "hosts.a.address",
    'expected a URL such as tcp://10.0.0.2:7070, got "10.0.0.2"',
  ],
  [
    "a host name that is not a runtime name",
    { transports: { secret: "s" }, hosts: { "node b": { address: "tcp://x:1" } }, containers: {} },
    "hosts.node b",
    'host name "node b" is not a runtime name; expected a letter, then letters, digits, "_" or "-"',
  ],
  [
    "an application name that cannot default the runtime name",
    { name: "my shop", transports: { secret: "s" }, containers: {} },
    "transports.name",
    `missing; expected a runtime name (a letter, then letters, digits, "_" or "-"): the default, the application's name "my shop", is not one`,
  ],
  [
    "an unknown transports key",
    { transports: { secret: "s", lisen: "tcp://x:1" }, containers: {} },
    "transports.lisen",
    'unknown key "lisen" (did you mean "listen"?); expected one of name, listen, secret, tls, keepalive, max_frame, nats',
  ],
  [
    "a tls file that is not a path",
    { transports: { secret: "s", tls: { cert: 5 } }, containers: {} },
    "transports.tls.cert",
    "expected a file path, got number 5",
  ],
  [
    "a max_frame with an unknown unit",
    { transports: { secret: "s", max_frame: "16MB" }, containers: {} },
    "transports.max_frame",
    'expected a size from 1KiB to 2GiB such as 65536, 64KiB or 16MiB, got "16MB"',
  ],
  [
    "a max_frame too small for a handshake",
    { transports: { secret: "s", max_frame: 100 }, containers: {} },
    "transports.max_frame",
    "expected a size from 1KiB to 2GiB such as 65536, 64KiB or 16MiB, got number 100",
  ],
  [
    "a management block without a token",
    { management: {}, containers: {} },
    "management.token",
    "missing; expected the token every request to the management API must carry (e.g. token: ${KRAKEN_TOKEN})",
  ],
  [
    "an empty management block",
    { management: null, containers: {} },
    "management",
    "expected a map with keys listen, token, got null (an empty value)",
  ],
  [
    "an empty management token",
    { management: { token: "" }, containers: {} },
    "management.token",
    "expected a non-empty string (e.g. token: ${KRAKEN_TOKEN}), got an empty string",
  ],
  [
    "a misspelt management key",
    { management: { tokn: "secret-value" }, containers: {} },
    "management.tokn",
    'unknown key "tokn" (did you mean "token"?); expected one of listen, token',
  ],
  [
    "a management port that is a name",
    { management: { token: "t", listen: "localhost:http" }, containers: {} },
    "management.listen",
    `${LISTEN}, got "localhost:http", whose port "http" is not a number`,
  ],
  [
    "a management port above 65535",
    { management: { token: "t", listen: ":65536" }, containers: {} },
    "management.listen",
    'expected a port from 0 to 65535, got 65536 in ":65536"',
  ],
  [
    "a negative management port",
    { management: { token: "t", listen: -1 }, containers: {} },
    "management.listen",
    "expected a port from 0 to 65535, got number -1",
  ],
  [
    "an IPv6 management host without brackets",
    { management: { token: "t", listen: "::1:9090" }, containers: {} },
    "management.listen",
    `${LISTEN}, got "::1:9090"; an IPv6 host goes in brackets: [::1]:9090`,
  ],
  [
    "a management host that is no IPv4 address",
    { management: { token: "t", listen: "256.1.1.1:80" }, containers: {} },
    "management.listen",
    'expected a host name or IP address before ":", got "256.1.1.1" in "256.1.1.1:80"',
  ],
  [
    "a management listen that is neither text nor number",
    { management: { token: "t", listen: true }, containers: {} },
    "management.listen",
    `${LISTEN}, got boolean true`,
  ],
  [
    "a host: naming no declared host",
    {
      transports: { secret: "s" },
      hosts: { "node-b": { address: "tcp://10.0.0.2:7070" } },
      containers: { a: { module: "a.ts", host: "node-c" } },
    },
    "containers.a.host",
    'unknown host "node-c" (did you mean "node-b"?); expected one of the hosts: node-b',
  ],
  [
    "a host: without mode remote",
    {
      transports: { secret: "s" },
      hosts: { "node-b": { address: "tcp://10.0.0.2:7070" } },
      containers: { a: { module: "a.ts", mode: "inline", host: "node-b" } },
    },
    "containers.a.host",
    'host "node-b" would place this container on a host agent, which needs mode: remote; expected no host: with mode: inline',
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
    assert.equal(error.message, `topology: ${key}: ${message}`);
    assert.equal(error.line, undefined);
  });
}

Deno.test("validateTopology() accepts management:, defaulting listen to 127.0.0.1:9090", () => {
  const t = validateTopology(
    { management: { token: "${TOKEN}" }, containers: {} },
    { ...base, env: (name) => (name === "TOKEN" ? "t0ken" : undefined) },
  );
  assert.deepEqual(t.management, { listen: DEFAULTS.management.listen, token: "t0ken" });
  assert.equal(DEFAULTS.management.listen, "127.0.0.1:9090");
  assert.equal(validateTopology({ containers: {} }, base).management, undefined);
});

Deno.test("management.listen takes host:port, port, :port and [IPv6]:port, normalised", () => {
  const listen = (value: string | number) =>
    validateTopology({ management: { listen: value, token: "t" }, containers: {} }, base)
      .management?.listen;
  assert.equal(listen("0.0.0.0:8080"), "0.0.0.0:8080");
  assert.equal(listen("localhost:0"), "localhost:0");
  assert.equal(listen("9090"), "127.0.0.1:9090");
  assert.equal(listen(":9090"), "127.0.0.1:9090");
  assert.equal(listen(9090), "127.0.0.1:9090");
  assert.equal(listen("[::1]:65535"), "[::1]:65535");
  assert.equal(listen(" node-1.example.com:1 "), "node-1.example.com:1");
});

Deno.test("parseListenAddress() splits what management.listen holds, for Deno.serve", () => {
  assert.deepEqual(parseListenAddress("127.0.0.1:9090"), { hostname: "127.0.0.1", port: 9090 });
  assert.deepEqual(parseListenAddress("[::1]:0"), { hostname: "::1", port: 0 });
  assert.deepEqual(parseListenAddress(":80"), { hostname: "127.0.0.1", port: 80 });
  assert.throws(
    () => parseListenAddress("x:99999"),
    new TypeError('listen address: expected a port from 0 to 65535, got 99999 in "x:99999"'),
  );
});

Deno.test("${VAR} is read once: a value holding ${…} is not expanded again", () => {
  const t = validateTopology(
    { name: "${A}", containers: { a: { module: "./a.ts", config: { v: "${A}" } } } },
    { ...base, env: (name) => (name === "A" ? "${B}" : undefined) },
  );
  assert.equal(t.name, "${B}");
  assert.deepEqual(t.containers[0].config, { v: "${B}" });
});

Deno.test("validateContainer() reads ${VAR} in a spawned spec's keys but leaves its config alone", () => {
  const spec = validateContainer(
    "cache",
    { module: "./${MOD}.ts", replicas: "${N}" as unknown as number, config: { text: "${N}" } },
    { ...base, env: (name) => ({ N: "3", MOD: "cache" })[name] },
  );
  assert.equal(spec.module, "file:///app/cache.ts");
  assert.equal(spec.replicas, 3);
  assert.deepEqual(spec.config, { text: "${N}" });
  assert.throws(
    () => validateContainer("x", { module: "./x.ts", shutdown: "${NOPE_UNSET}" }, base),
    new TopologyError("environment variable ${NOPE_UNSET} is not set", { key: "x.shutdown" }),
  );
});

Deno.test("validateContainer() refuses host: when there are no hosts to name", () => {
  assert.throws(
    () => validateContainer("x", { module: "./x.ts", host: "b" }, base),
    (e: Error) =>
      e instanceof TopologyError &&
      e.message ===
        'topology: x.host: unknown host "b"; expected a host declared under hosts:, and there is none',
  );
});

Deno.test("suggest() finds the meant word by edits, swaps, spellings and prefixes, not far ones", () => {
  assert.equal(suggest("restrat", ["restart", "resume"]), "restart");
  assert.equal(suggest("max-frame", ["max_frame"]), "max_frame");
  assert.equal(suggest("maxFrame", ["max_frame"]), "max_frame");
  assert.equal(suggest("perm", ["permissions", "mode"]), "permissions");
  assert.equal(suggest("nett", ["net", "read"]), "net");
  assert.equal(
    suggest("fs", ["net", "read", "write", "env", "run", "ffi", "sys", "import"]),
    undefined,
  );
  assert.equal(suggest("colour", ["module", "config"]), undefined);
});

Deno.test("loadTopology() names the file, line and column of a bad value in YAML", async () => {
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
    assert.equal(error.column, 15);
    assert.equal(
      error.message,
      `${dir}/kraken.yaml:5:15: containers.a.replicas: expected a whole number >= 0, got "many"`,
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
