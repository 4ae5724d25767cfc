// Who listens where (config/_ports.ts): two listeners on one port are a TopologyError at the
// later container's serve key, naming the other owner and its line; a net grant that would let a
// sandboxed container listen on another's serve: address is a warning.
import assert from "node:assert/strict";
import { loadTopology, TopologyError, validateTopology } from "../../mod.ts";
import { listenGrantWarnings } from "../../config/_ports.ts";
import { kraken } from "../cli/_cli.ts";

const dir = await Deno.makeTempDir({ prefix: "kraken_ports_" });
await Deno.writeTextFile(`${dir}/api.ts`, "export default {};\n");

async function refusal(yaml: string): Promise<TopologyError> {
  const file = `${dir}/kraken.yaml`;
  await Deno.writeTextFile(file, yaml);
  const error = await loadTopology(file).then(() => assert.fail("it loaded"), (e) => e);
  assert.ok(error instanceof TopologyError, String(error));
  return error;
}

const CASES: [what: string, yaml: string, line: number, other: RegExp][] = [
  [
    "two containers on the same address",
    "containers:\n  api:\n    module: ./api.ts\n    serve: { port: 18090, hostname: 127.0.0.1 }\n  admin:\n    module: ./api.ts\n    serve: { port: 18090, hostname: 127.0.0.1 }\n",
    7,
    /where container "api" at containers\.api\.serve \(line 4\) already listens \(127\.0\.0\.1:18090\)/,
  ],
  [
    "a wildcard and a specific host on the same port",
    "containers:\n  api:\n    module: ./api.ts\n    serve: 18090\n  admin:\n    module: ./api.ts\n    serve: { port: 18090, hostname: 127.0.0.1 }\n",
    7,
    /where container "api" at containers\.api\.serve \(line 4\) already listens \(0\.0\.0\.0:18090\)/,
  ],
  [
    "two spellings of one address (localhost and 127.000.000.001)",
    "containers:\n  api:\n    module: ./api.ts\n    serve: { port: 18091, hostname: localhost }\n  evil:\n    module: ./api.ts\n    serve: { port: 18091, hostname: 127.000.000.001 }\n",
    7,
    /where container "api" at containers\.api\.serve \(line 4\) already listens \(localhost:18091\)/,
  ],
  [
    "an IPv4-mapped IPv6 address and its IPv4 one",
    'containers:\n  api:\n    module: ./api.ts\n    serve: { port: 18092, hostname: 127.0.0.1 }\n  evil:\n    module: ./api.ts\n    serve: { port: 18092, hostname: "::ffff:127.0.0.1" }\n',
    7,
    /where container "api" at containers\.api\.serve \(line 4\) already listens \(127\.0\.0\.1:18092\)/,
  ],
  [
    "the management port",
    "containers:\n  api:\n    module: ./api.ts\n    serve: { port: 19090, hostname: 127.0.0.1 }\nmanagement:\n  listen: 127.0.0.1:19090\n  token: t0k3n-t0k3n-t0k3n\n",
    4,
    /where management\.listen \(line 6\) already listens \(127\.0\.0\.1:19090\)/,
  ],
  [
    "the transports port (tcp://)",
    "containers:\n  api:\n    module: ./api.ts\n    serve: 17070\ntransports:\n  listen: tcp://127.0.0.1:17070\n  secret: s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\n",
    4,
    /where transports\.listen \(line 6\) already listens \(127\.0\.0\.1:17070\)/,
  ],
  [
    "the transports port (ws://)",
    "containers:\n  api:\n    module: ./api.ts\n    serve: { port: 17071, hostname: 0.0.0.0 }\ntransports:\n  listen: ws://[::1]:17071\n  secret: s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\n",
    4,
    /where transports\.listen \(line 6\) already listens \(::1:17071\)/,
  ],
];

for (const [what, yaml, line, other] of CASES) {
  Deno.test(`serve: on ${what} is a TopologyError at the later serve key, naming the other owner and its line`, async () => {
    const error = await refusal(yaml);
    assert.match(error.key ?? "", /^containers\.(api|admin|evil)\.serve$/);
    assert.equal(error.line, line);
    assert.match(error.message, other);
    assert.match(error.message, /expected a port of its own/);
  });
}

Deno.test("serve: listeners that cannot collide are accepted: port 0, other ports, two specific hosts, another agent's host", () => {
  const topology = validateTopology({
    hosts: { b: { address: "tcp://10.0.0.2:7070" } },
    containers: {
      a: { module: "./a.ts", serve: 0 },
      b: { module: "./a.ts", serve: 0 },
      c: { module: "./a.ts", serve: { port: 18090, hostname: "127.0.0.1" } },
      d: { module: "./a.ts", serve: { port: 18090, hostname: "127.0.0.2" } },
      e: { module: "./a.ts", serve: 18091 },
      f: { module: "./a.ts", mode: "remote", host: "b", serve: 18091 },
    },
    management: { listen: "127.0.0.1:18092", token: "t0k3n-t0k3n-t0k3n" },
    transports: { listen: "tcp://127.0.0.1:18093", secret: "s3cr3t-s3cr3t-s3cr3t-s3cr3t" },
  }, { baseUrl: "file:///app/" });
  assert.equal(topology.containers.length, 6);
});

Deno.test("a sandboxed container whose net grant lets it listen on another's serve: address is warned about, naming both", () => {
  const topology = validateTopology({
    containers: {
      api: { module: "./a.ts", mode: "worker", serve: 18100 },
      web: {
        module: "./a.ts",
        mode: "process",
        serve: { port: 18101, hostname: "127.0.0.1" },
        permissions: { net: ["127.0.0.1:18100"] },
      },
      joiner: { module: "./a.ts", mode: "process", unstable: ["net"], permissions: { net: true } },
      caller: { module: "./a.ts", mode: "worker", permissions: { net: ["127.0.0.1:9999"] } },
    },
  }, { baseUrl: "file:///app/" });
  const warnings = listenGrantWarnings(topology.containers);
  assert.equal(warnings.length, 3, warnings.join("\n"));
  assert.match(
    warnings[0],
    /^process container "web" has net grant "127\.0\.0\.1:18100", which lets it listen on 0\.0\.0\.0:18100, the serve: address of container "api"/,
  );
  assert.match(
    warnings[1],
    /container "joiner" has net grant "net: true".* container "api".*reusePort/,
  );
  assert.match(warnings[2], /container "joiner" .* container "web"/);
});

Deno.test("kraken start with two containers serving one port exits 2 before anything starts, naming the file, line and both owners", async () => {
  const file = `${dir}/collide.yaml`;
  await Deno.writeTextFile(file, CASES[0][1]);
  const result = await kraken(["start", file], { ms: 30_000 });
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr,
    /collide\.yaml:7:\d+: containers\.admin\.serve: container "admin" serves 127\.0\.0\.1:18090, where container "api" at containers\.api\.serve \(line 4\) already listens/,
  );
  assert.doesNotMatch(result.stdout, /✓/, "nothing started");
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
