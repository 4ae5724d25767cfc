import assert from "node:assert/strict";
import { planTopology, TopologyError, validateTopology } from "../../mod.ts";
import { TOPOLOGY_KEYS } from "../../config/topology.ts";
import { topologyJsonSchema } from "../../config/schema.ts";

const base = { baseUrl: "file:///app/" };
const api = (extra: Record<string, unknown>) =>
  validateTopology({ containers: { api: { module: "./api.ts", ...extra } } }, base).containers[0];

function refusal(extra: Record<string, unknown>): TopologyError {
  try {
    api(extra);
  } catch (error) {
    assert.ok(error instanceof TopologyError);
    return error;
  }
  throw new Error("accepted");
}

Deno.test("serve: 8080 is shorthand for { port: 8080, hostname: 0.0.0.0, protocol: http }", () => {
  assert.deepEqual(api({ serve: 8080 }).serve, {
    port: 8080,
    hostname: "0.0.0.0",
    protocol: "http",
  });
  assert.deepEqual(api({ serve: { port: "9000", hostname: "127.0.0.1", protocol: "tcp" } }).serve, {
    port: 9000,
    hostname: "127.0.0.1",
    protocol: "tcp",
  });
  assert.equal(api({ serve: { port: 80, hostname: "::1" } }).serve?.hostname, "::1");
});

Deno.test("serve: derives the net grant for its address and Deno's unstable net feature", () => {
  const spec = api({ serve: { port: 8080 }, permissions: { net: ["db:5432"] }, unstable: ["kv"] });
  assert.deepEqual(spec.permissions.net, ["db:5432", "0.0.0.0:8080"]);
  assert.deepEqual(spec.unstable, ["kv", "net"]);
  // Port 0 has no grant until the runtime picks the port.
  assert.equal(api({ serve: 0 }).permissions.net, undefined);
  assert.deepEqual(api({ serve: { port: 80, hostname: "::1" } }).permissions.net, ["[::1]:80"]);
});

Deno.test("serve: refuses ports out of 0–65535, bad hostnames, unknown protocols and keys, naming the key", () => {
  for (const port of [70000, -1, 1.5, "http"]) {
    const error = refusal({ serve: { port } });
    assert.equal(error.key, "containers.api.serve.port");
    assert.match(error.message, /expected a port from 0 to 65535/);
  }
  assert.equal(refusal({ serve: 99999 }).key, "containers.api.serve");
  assert.equal(refusal({ serve: { hostname: "x" } }).key, "containers.api.serve.port");
  assert.match(refusal({ serve: { hostname: "x" } }).message, /missing/);
  const host = refusal({ serve: { port: 1, hostname: "a b" } });
  assert.equal(host.key, "containers.api.serve.hostname");
  const protocol = refusal({ serve: { port: 1, protocol: "htp" } });
  assert.equal(protocol.key, "containers.api.serve.protocol");
  assert.match(protocol.message, /did you mean "http"/);
  const key = refusal({ serve: { port: 1, hostnme: "x" } });
  assert.equal(key.key, "containers.api.serve.hostnme");
  assert.match(key.message, /did you mean "hostname"/);
  assert.match(refusal({ serve: { port: 1, host: "x" } }).message, /did you mean "hostname"/);
  const misplaced = refusal({ port: 8080 });
  assert.match(misplaced.message, /it belongs under a container's serve:/);
});

Deno.test("serve: websocket is false unless set; true is kept; other values, near misses and tcp are refused naming the key", () => {
  assert.equal(api({ serve: { port: 1 } }).serve?.websocket, undefined);
  assert.equal(api({ serve: { port: 1, websocket: false } }).serve?.websocket, undefined);
  assert.equal(api({ serve: { port: 1, websocket: true } }).serve?.websocket, true);
  assert.equal(api({ serve: { port: 1, websocket: "true" } }).serve?.websocket, true);
  const value = refusal({ serve: { port: 1, websocket: "yes" } });
  assert.equal(value.key, "containers.api.serve.websocket");
  assert.match(value.message, /expected true .* or false .*got "yes"/);
  const near = refusal({ serve: { port: 1, websockets: true } });
  assert.equal(near.key, "containers.api.serve.websockets");
  assert.match(near.message, /did you mean "websocket"/);
  const tcp = refusal({ serve: { port: 1, protocol: "tcp", websocket: true } });
  assert.equal(tcp.key, "containers.api.serve.websocket");
  assert.match(tcp.message, /websocket: applies to protocol: http only/);
});

Deno.test("serve: max_message is a size from 1KiB to 64MiB kept with websocket: true, refused without it, naming the key", () => {
  assert.equal(api({ serve: { port: 1, websocket: true } }).serve?.maxMessage, undefined);
  assert.equal(
    api({ serve: { port: 1, websocket: true, max_message: "64KiB" } }).serve?.maxMessage,
    65536,
  );
  assert.equal(
    api({ serve: { port: 1, websocket: true, max_message: 2048 } }).serve?.maxMessage,
    2048,
  );
  const big = refusal({ serve: { port: 1, websocket: true, max_message: "65MiB" } });
  assert.equal(big.key, "containers.api.serve.max_message");
  assert.match(big.message, /expected a size from 1KiB to 64MiB .* got "65MiB"/);
  const small = refusal({ serve: { port: 1, websocket: true, max_message: 100 } });
  assert.equal(small.key, "containers.api.serve.max_message");
  const without = refusal({ serve: { port: 1, max_message: "64KiB" } });
  assert.equal(without.key, "containers.api.serve.max_message");
  assert.match(without.message, /need websocket: true/);
  const off = refusal({ serve: { port: 1, websocket: false, max_message: "64KiB" } });
  assert.equal(off.key, "containers.api.serve.max_message");
});

Deno.test("serve: under a worker or process parent is refused; under an inline parent it is accepted", () => {
  const child = { module: "./c.ts", mode: "worker", serve: 8080 };
  assert.throws(
    () =>
      validateTopology({
        containers: { p: { module: "./p.ts", mode: "worker", children: { c: child } } },
      }, base),
    (e: TopologyError) => e.key === "containers.p.children.c.serve",
  );
  validateTopology({
    containers: { p: { module: "./p.ts", mode: "inline", children: { c: child } } },
  }, base);
});

Deno.test("serve is a container key of the schema, and a changed serve: replaces the container", () => {
  assert.ok((TOPOLOGY_KEYS.container as readonly string[]).includes("serve"));
  const defs = topologyJsonSchema().$defs as Record<string, { properties: object }>;
  assert.deepEqual(Object.keys(defs.serve.properties), [
    "port",
    "hostname",
    "protocol",
    "websocket",
    "max_message",
  ]);
  const topology = (serve: unknown) =>
    validateTopology({ containers: { api: { module: "./api.ts", serve } } }, base);
  const plan = planTopology(topology(8080), topology(8081));
  assert.equal(plan.steps[0].op, "replace");
  assert.deepEqual(planTopology(topology(0), topology(0)).steps, []);
  const upgraded = planTopology(topology({ port: 80 }), topology({ port: 80, websocket: true }));
  assert.equal(upgraded.steps[0].op, "replace");
});

Deno.test("Runtime.start where the runtime may not listen refuses the container with a PermissionEscalationError naming its serve key", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-read",
      "--allow-env",
      "--allow-net=127.0.0.1:1",
      new URL("./fixtures/escalating_host.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const seen = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  assert.equal(seen.name, "PermissionEscalationError");
  assert.match(seen.message, /containers\.api\.serve listens on 0\.0\.0\.0:8080/);
});
