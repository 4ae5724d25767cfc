// Topology files: each malformed file under tests/fixtures/topologies/bad/ fails with exactly the
// message pinned here ("<file>:<line>:<column>: <key path>: <problem>; <expected>"), and the same
// topology given as an object fails with the same message, "topology" standing for the file.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { loadTopology, TopologyError } from "../../mod.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const BAD = new URL("topologies/bad/", FIXTURES);
const GOOD = new URL("topologies/good/", FIXTURES);
const path = (url: URL) => decodeURIComponent(url.pathname);

/**
 * [fixture, "line:column" ("" when the file has no line to point at), message after the key path
 * prefix]. `<fixtures>/` stands for the absolute path of tests/fixtures/.
 */
const CASES: [string, string, string][] = [
  [
    "backoff_max_below_min",
    "3:28",
    'supervisor.backoff.max: expected a duration >= backoff.min (2000 ms), got "1s"',
  ],
  [
    "balance_misspelt",
    "6:14",
    'containers.api.balance: expected one of round_robin, random, key_hash, got "round-robin" (did you mean "round_robin"?)',
  ],
  ["buffer_negative", "5:13", "containers.api.buffer: expected a whole number >= 0, got number -1"],
  [
    "child_escalates",
    "10:30",
    'containers.billing.children.mailer.permissions.read: asks for read "/etc", which its parent "billing" does not have; a child runs inside its parent\'s sandbox and can never be granted more',
  ],
  [
    "config_not_a_map",
    "5:13",
    'containers.api.config: expected a map (handed to the container as ctx.config), got "hello"',
  ],
  [
    "container_key_at_top",
    "2:1",
    'replicas: unknown key "replicas" here (it belongs in a container); expected one of name, supervisor, containers, transports, management, hosts, placement, schedule, leadership',
  ],
  [
    "container_level_missing",
    "3:3",
    'containers.module: expected a container name here, but "module" is a container key; write containers: { <name>: { module: … } }',
  ],
  [
    "container_name_invalid",
    "3:3",
    'containers.9lives: container name "9lives" is not valid; expected a letter, then letters, digits, "_" or "-"',
  ],
  [
    "containers_is_null",
    "3:12",
    "containers: expected a map of container names to containers, got null (an empty value)",
  ],
  [
    "duplicate_between_children",
    "10:7",
    'containers.b.children.cache: container name "cache" is already used at containers.a.children.cache (line 6); names are unique across the whole topology, children included',
  ],
  [
    "duplicate_nested_name",
    "10:3",
    'containers.ledger: container name "ledger" is already used at containers.billing.children.ledger (line 7); names are unique across the whole topology, children included',
  ],
  [
    "duplicate_top_key",
    "4:1",
    'name: key "name" is given twice in the same map (first at line 2); expected each key once, so remove or rename one',
  ],
  [
    "duplicate_yaml_key",
    "7:3",
    'containers.api: key "api" is given twice in the same map (first at line 3); expected each key once, so remove or rename one',
  ],
  [
    "duration_unit",
    "5:16",
    'containers.api.keepalive: expected a duration such as 250ms, 5s or 2m (or a number of milliseconds), got "5sec"',
  ],
  [
    "duration_word",
    "5:15",
    'containers.api.shutdown: expected a duration such as 250ms, 5s or 2m (or a number of milliseconds), got "soon"',
  ],
  ["empty_file", "", "the topology is empty; expected a map with at least containers:"],
  [
    "env_unset",
    "5:15",
    "containers.api.replicas: environment variable ${KRAKEN_TEST_UNSET_REPLICAS} is not set",
  ],
  [
    "env_unset_in_config",
    "7:14",
    "containers.api.config.db.url: environment variable ${KRAKEN_TEST_UNSET_DB_HOST} is not set",
  ],
  [
    "host_address_missing",
    "4:3",
    "hosts.node-b.address: missing; expected the URL that runtime listens on, such as tcp://10.0.0.2:7070",
  ],
  [
    "host_unknown",
    "9:11",
    'containers.billing.host: unknown host "node-c" (did you mean "node-b"?); expected one of the hosts: node-b',
  ],
  [
    "host_without_hosts",
    "5:11",
    'containers.billing.host: unknown host "node-b"; expected a host declared under hosts:, and there is none',
  ],
  [
    "host_without_remote",
    "9:11",
    'containers.billing.host: host "node-b" would place this container on a host agent, which needs mode: remote; expected no host: with mode: process',
  ],
  [
    "hosts_without_transports",
    "2:1",
    "transports: missing; expected a transports: block with the shared secret, since hosts: joins other runtimes",
  ],
  [
    "jitter_out_of_range",
    "4:13",
    "supervisor.backoff.jitter: expected a number from 0 to 1, got number 1.5",
  ],
  [
    "key_in_wrong_block",
    "5:5",
    'containers.api.intensity: unknown key "intensity" here (it belongs under supervisor:); expected one of module, mode, replicas, balance, restart, shutdown, keepalive, permissions, unstable, config, host, placement, hosts, max_per_host, rebalance, runs_as, on_error, buffer, max_memory, supervisor, children, serve, entities',
  ],
  [
    "malformed_yaml",
    "4:64",
    "malformed YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
  ],
  [
    "management_bad_host",
    "3:11",
    'management.listen: expected a host name or IP address before ":", got "local host" in "local host:9090"',
  ],
  [
    "management_no_token",
    "2:1",
    "management.token: missing; expected the token every request to the management API must carry (e.g. token: ${KRAKEN_TOKEN})",
  ],
  [
    "management_port_range",
    "3:11",
    'management.listen: expected a port from 0 to 65535, got 70000 in "127.0.0.1:70000"',
  ],
  [
    "management_token_not_string",
    "3:10",
    "management.token: expected a non-empty string (e.g. token: ${KRAKEN_TOKEN}), got a map",
  ],
  [
    "management_unknown_key",
    "3:3",
    'management.lisen: unknown key "lisen" (did you mean "listen"?); expected one of listen, token',
  ],
  [
    "max_frame_unit",
    "4:14",
    'transports.max_frame: expected a size from 1KiB to 2GiB such as 65536, 64KiB or 16MiB, got "16MB"',
  ],
  [
    "missing_containers",
    "2:1",
    "containers: missing; expected a map of containers, e.g. containers: { api: { module: ./api.ts } }",
  ],
  [
    "mode_misspelt",
    "5:11",
    'containers.api.mode: expected one of inline, worker, process, got "proces" (did you mean "process"?)',
  ],
  [
    "mode_remote",
    "5:11",
    "containers.api.mode: mode: remote places the container on a host agent; expected at least one agent under hosts: (started with kraken node)",
  ],
  [
    "mode_wrong_type",
    "5:11",
    "containers.api.mode: expected one of inline, worker, process, got a list",
  ],
  [
    "module_is_folder",
    "4:13",
    "containers.api.module: module ../ is a folder; expected a module file, not <fixtures>/topologies/",
  ],
  [
    "module_missing",
    "3:3",
    "containers.api.module: missing; expected a module path (relative to the topology's folder) or URL, such as ./api.ts",
  ],
  [
    "module_not_found",
    "4:13",
    'containers.api.module: module ../../ecoh.ts does not exist (did you mean "../../echo.ts"?); expected a file at <fixtures>/ecoh.ts',
  ],
  [
    "module_wrong_type",
    "4:13",
    "containers.api.module: expected a module path (relative to the topology's folder) or URL, got number 42",
  ],
  [
    "name_empty",
    "2:7",
    "name: expected the application's name, a non-empty string, got an empty string",
  ],
  [
    "on_error_action_misspelt",
    "7:31",
    'containers.api.on_error[1].action: expected one of restart, resume, stop, escalate, log, got "restrat" (did you mean "restart"?)',
  ],
  [
    "on_error_not_a_list",
    "5:15",
    "containers.api.on_error: expected a list of rules like [{ match: DbError, action: restart }], got a map",
  ],
  [
    "on_error_two_actions",
    "7:17",
    'containers.api.on_error[0].action: combines "stop" and "resume": a rule takes one of restart, resume, stop, escalate, plus log',
  ],
  [
    "serve_websocket_tcp",
    "8:7",
    "containers.api.serve.websocket: websocket: applies to protocol: http only (WebSocket upgrades of its fetch), and this container serves protocol: tcp (raw connections); remove websocket: or serve http",
  ],
  [
    "period_negative",
    "3:11",
    "supervisor.period: expected a duration such as 250ms, 5s or 2m (or a number of milliseconds), got number -10",
  ],
  [
    "permission_bad_item",
    "6:26",
    "containers.api.permissions.read[1]: expected a non-empty string without commas, got number 7",
  ],
  [
    "permission_outside_permissions",
    "5:5",
    'containers.api.net: unknown key "net" here (it belongs under permissions:); expected one of module, mode, replicas, balance, restart, shutdown, keepalive, permissions, unstable, config, host, placement, hosts, max_per_host, rebalance, runs_as, on_error, buffer, max_memory, supervisor, children, serve, entities',
  ],
  [
    "permission_unknown",
    "6:7",
    'containers.api.permissions.nett: unknown permission "nett" (did you mean "net"?); expected one of net, read, write, env, run, ffi, sys, import',
  ],
  [
    "process_child_under_worker",
    "9:15",
    'containers.billing.children.ledger.mode: a process child cannot run under a worker container ("billing"): starting a process needs the "run" permission, which would let a sandboxed container escape its grant; make "billing" inline, or move this child up',
  ],
  [
    "replicas_fraction",
    "3:43",
    "containers.api.replicas: expected a whole number >= 0, got number 1.5",
  ],
  ["replicas_word", "6:15", 'containers.api.replicas: expected a whole number >= 0, got "many"'],
  [
    "restart_unknown",
    "5:14",
    'containers.api.restart: expected one of permanent, transient, temporary, got "always" (did you mean "permanent"?)',
  ],
  [
    "strategy_unknown",
    "3:13",
    'supervisor.strategy: expected one of one_for_one, one_for_all, rest_for_one, got "one_for_rest"',
  ],
  [
    "supervisor_not_a_map",
    "2:13",
    'supervisor: expected a map with keys strategy, intensity, period, backoff, got "one_for_all"',
  ],
  ["tab_indent", "4:1", "malformed YAML: Tabs are not allowed as indentation"],
  [
    "top_is_a_list",
    "2:1",
    "expected a map with keys name, supervisor, containers, transports, management, hosts, placement, schedule, leadership, got a list",
  ],
  [
    "transports_listen_not_url",
    "3:11",
    'transports.listen: expected a URL such as tcp://127.0.0.1:7070, got "127.0.0.1:7070"',
  ],
  [
    "transports_no_secret",
    "2:1",
    "transports.secret: missing; expected the shared secret links between runtimes prove (e.g. secret: ${KRAKEN_SECRET})",
  ],
  [
    "unknown_container_key",
    "5:5",
    'containers.api.replica: unknown key "replica" (did you mean "replicas"?); expected one of module, mode, replicas, balance, restart, shutdown, keepalive, permissions, unstable, config, host, placement, hosts, max_per_host, rebalance, runs_as, on_error, buffer, max_memory, supervisor, children, serve, entities',
  ],
  [
    "unknown_key_no_suggestion",
    "5:5",
    'containers.api.colour: unknown key "colour"; expected one of module, mode, replicas, balance, restart, shutdown, keepalive, permissions, unstable, config, host, placement, hosts, max_per_host, rebalance, runs_as, on_error, buffer, max_memory, supervisor, children, serve, entities',
  ],
  [
    "unknown_top_key",
    "3:1",
    'contaners: unknown key "contaners" (did you mean "containers"?); expected one of name, supervisor, containers, transports, management, hosts, placement, schedule, leadership',
  ],
];

/** Problems only a file can have: the object form of these is not even constructible. */
const FILE_ONLY = new Set([
  "duplicate_top_key",
  "duplicate_yaml_key",
  "malformed_yaml",
  "tab_indent",
]);

/** An object has no lines: the message drops the "(line N)" that points at the other occurrence. */
const OBJECT_MESSAGE: Record<string, string> = {
  duplicate_between_children:
    'containers.b.children.cache: container name "cache" is already used at containers.a.children.cache; names are unique across the whole topology, children included',
  duplicate_nested_name:
    'containers.ledger: container name "ledger" is already used at containers.billing.children.ledger; names are unique across the whole topology, children included',
};

const expand = (message: string) => message.replaceAll("<fixtures>/", path(FIXTURES));

async function failure(source: Parameters<typeof loadTopology>[0]): Promise<TopologyError> {
  const error = await loadTopology(source, { baseUrl: BAD.href }).then(
    () => assert.fail("the topology loaded"),
    (e) => e,
  );
  assert.ok(error instanceof TopologyError, String(error));
  return error;
}

Deno.test("the malformed topology fixtures are exactly the pinned cases, each saying what is wrong", async () => {
  const files = [];
  for await (const entry of Deno.readDir(BAD)) files.push(entry.name);
  assert.deepEqual(files.sort(), CASES.map(([name]) => `${name}.yaml`).sort());
  assert.ok(CASES.length >= 30);
  for (const name of files) {
    const first = (await Deno.readTextFile(new URL(name, BAD))).split("\n")[0];
    assert.match(first, /^# \S/, `${name} starts with a comment saying what is wrong`);
  }
});

for (const [name, at, message] of CASES) {
  Deno.test(`loadTopology() refuses bad/${name}.yaml with its file:line:column, key and expectation`, async () => {
    for (
      const variable of [
        "KRAKEN_TEST_UNSET_REPLICAS",
        "KRAKEN_TEST_UNSET_DB_HOST",
        "KRAKEN_TEST_UNSET_TOKEN",
      ]
    ) {
      assert.equal(Deno.env.get(variable), undefined, `${variable} must not be set for this test`);
    }
    const file = path(new URL(`${name}.yaml`, BAD));
    const error = await failure(file);
    assert.equal(error.message, `${file}${at ? `:${at}` : ""}: ${expand(message)}`);
    assert.equal(error.file, file);
    assert.equal(error.line, at ? Number(at.split(":")[0]) : undefined);
    assert.equal(error.column, at ? Number(at.split(":")[1]) : undefined);
    assert.ok(
      message.startsWith(error.key === "" ? "" : `${error.key}: `),
      `the key "${error.key}" leads the message`,
    );
  });

  if (FILE_ONLY.has(name)) continue;
  Deno.test(`validateTopology() refuses bad/${name}.yaml given as an object with the same message, no line`, async () => {
    const input = parse(await Deno.readTextFile(new URL(`${name}.yaml`, BAD)));
    const error = await failure(input);
    assert.equal(error.message, `topology: ${expand(OBJECT_MESSAGE[name] ?? message)}`);
    assert.equal(error.file, undefined);
    assert.equal(error.line, undefined);
  });
}

Deno.test("a management token is never echoed, whatever is wrong with it", async () => {
  const error = await failure(path(new URL("management_token_not_string.yaml", BAD)));
  assert.doesNotMatch(error.message, /hunter2/);
  const whole = await failure({
    management: "hunter2" as unknown as { token: string },
    containers: {},
  });
  assert.equal(
    whole.message,
    "topology: management: expected a map with keys listen, token, got a string",
  );
  const secret = await failure({
    transports: "hunter2" as unknown as { secret: string },
    containers: {},
  });
  assert.equal(
    secret.message,
    "topology: transports: expected a map with keys name, listen, secret, tls, keepalive, max_frame, nats, got a string",
  );
  const number = await failure({
    management: { token: 31337 as unknown as string },
    containers: {},
  });
  assert.equal(
    number.message,
    "topology: management.token: expected a non-empty string (e.g. token: ${KRAKEN_TOKEN}), got a number",
  );
});

Deno.test("loadTopology() names a file it cannot read", async () => {
  const file = path(new URL("does_not_exist.yaml", BAD));
  const error = await failure(file);
  assert.equal(error.file, file);
  assert.match(error.message, new RegExp(`^${file}: cannot read the topology file: `));
});

function withEnv(vars: Record<string, string>, body: () => Promise<void>): () => Promise<void> {
  return async () => {
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
    for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
    try {
      await body();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) Deno.env.delete(k);
        else Deno.env.set(k, v);
      }
    }
  };
}

Deno.test(
  "the CONTRACT example (without remote and host) loads, reading ${VAR} from the environment",
  withEnv({ KRAKEN_SECRET: "s3cret", KRAKEN_TOKEN: "t0ken" }, async () => {
    const file = path(new URL("contract_example.yaml", GOOD));
    const t = await loadTopology(file);
    assert.equal(t.name, "shop");
    assert.equal(t.file, file);
    assert.deepEqual(t.supervisor, {
      strategy: "one_for_one",
      intensity: 5,
      period: 10_000,
      backoff: { min: 20, max: 5_000, jitter: 0.2 },
    });
    assert.deepEqual(t.containers.map((c) => [c.name, c.mode, c.replicas]), [
      ["greeter", "worker", 2],
      ["billing", "process", 1],
    ]);
    assert.deepEqual(t.containers[0].permissions, {
      net: ["127.0.0.1:8080"],
      read: [path(new URL("public", GOOD))],
    });
    assert.deepEqual(t.containers[0].config, { greeting: "hello" });
    assert.equal(t.containers[1].supervisor.strategy, "rest_for_one");
    assert.deepEqual(t.containers[1].children.map((c) => [c.name, c.restart]), [[
      "ledger",
      "transient",
    ]]);
    assert.equal(t.transports?.secret, "s3cret");
    assert.equal(t.transports?.listen, "tcp://127.0.0.1:7070");
    assert.deepEqual(t.management, { listen: "127.0.0.1:9090", token: "t0ken" });
    assert.deepEqual(t.hosts, { "node-b": { address: "tcp://10.0.0.2:7070" } });
  }),
);

Deno.test("a minimal file loads with every default and no management or transports", async () => {
  const t = await loadTopology(path(new URL("minimal.yaml", GOOD)));
  assert.equal(t.name, "kraken");
  assert.equal(t.containers[0].module, new URL("../../echo.ts", GOOD).href);
  assert.equal(t.management, undefined);
  assert.equal(t.transports, undefined);
  assert.deepEqual(t.hosts, {});
});

Deno.test("management.listen as a bare port gets host 127.0.0.1", async () => {
  const t = await loadTopology(path(new URL("management_port_only.yaml", GOOD)));
  assert.deepEqual(t.management, { listen: "127.0.0.1:9191", token: "not-a-real-token" });
});

Deno.test(
  "a file using every key loads, each value converted",
  withEnv({ KRAKEN_TEST_SECRET: "s", KRAKEN_TEST_TOKEN: "t" }, async () => {
    const t = await loadTopology(path(new URL("every_key.yaml", GOOD)));
    const front = t.containers[0];
    assert.deepEqual(t.supervisor, {
      strategy: "rest_for_one",
      intensity: 3,
      period: 120_000,
      backoff: { min: 10, max: 1500, jitter: 0 },
    });
    assert.equal(front.mode, "process");
    assert.equal(front.replicas, 3);
    assert.equal(front.balance, "key_hash");
    assert.equal(front.restart, "transient");
    assert.equal(front.shutdown, 250);
    assert.equal(front.keepalive, 10_000);
    assert.equal(front.buffer, 0);
    assert.deepEqual(front.permissions, {
      net: ["127.0.0.1:8080", "example.com"],
      read: [path(new URL("public", GOOD)), "/etc/hosts"],
      env: ["HOME"],
      sys: ["hostname"],
      import: true,
    });
    assert.deepEqual(front.onError, [
      { match: ["DbError", "TimeoutError"], action: "resume", log: true },
      { match: ["*"], action: "restart", log: false },
    ]);
    assert.deepEqual(front.supervisor, {
      strategy: "one_for_all",
      intensity: 0,
      period: 1000,
      backoff: { min: 1, max: 60_000, jitter: 1 },
    });
    assert.deepEqual(front.children.map((c) => c.name), ["cache"]);
    assert.deepEqual(front.children[0].children.map((c) => [c.name, c.mode]), [[
      "shard",
      "inline",
    ]]);
    assert.deepEqual(t.transports, {
      name: "edge-1",
      listen: "tcp://127.0.0.1:0",
      secret: "s",
      tls: {
        cert: path(new URL("cert.pem", GOOD)),
        key: path(new URL("key.pem", GOOD)),
        ca: path(new URL("ca.pem", GOOD)),
      },
      keepalive: 3000,
      maxFrame: 65_536,
    });
    assert.deepEqual(t.management, { listen: "[::1]:0", token: "t" });
    assert.deepEqual(t.hosts, { core: { address: "tcp://10.0.0.2:7070" } });
  }),
);

Deno.test("a management token whose variable is unset does not stop a runtime: serving the API is what needs it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/kraken.yaml`;
    await Deno.writeTextFile(
      file,
      "name: app\nmanagement:\n  token: ${KRAKEN_TEST_UNSET_TOKEN}\ncontainers: {}\n",
    );
    const topology = await loadTopology(file);
    assert.equal(topology.management?.token, "");
    assert.equal(
      topology.management?.tokenUnset,
      `${file}:3:10: management.token: environment variable \${KRAKEN_TEST_UNSET_TOKEN} is not set`,
    );
    // Any other unset variable still stops the topology at its line.
    await Deno.writeTextFile(file, "name: ${KRAKEN_TEST_UNSET_NAME}\ncontainers: {}\n");
    await assert.rejects(loadTopology(file), /1:7: name: environment variable .* is not set/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
