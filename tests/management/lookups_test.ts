// How the management API reads the runtime: one tree snapshot before a route acts (state check,
// lookup, conflict check and the names an error lists all come from it) and one for its answer;
// a spawned spec is validated once, by the runtime, with what only the runtime knows.
import assert from "node:assert/strict";
import { Runtime, type TopologyInput } from "../../mod.ts";
import { type ManagementApp, managementApp } from "../../management/app.ts";
import { SECRET, startAgent } from "../distribution/_agents.ts";

const TOKEN = "lookups-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const FIXTURES = new URL("../fixtures/", import.meta.url);

/** `rt`, with a count of its `tree()` calls (each builds the whole snapshot). */
function counting(rt: Runtime): { rt: Runtime; trees: () => number; reset: () => void } {
  let trees = 0;
  const proxy = new Proxy(rt, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key === "tree") trees++;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { rt: proxy, trees: () => trees, reset: () => void (trees = 0) };
}

async function call(app: ManagementApp, method: string, path: string, body?: unknown) {
  const res = await app.request(path, {
    method,
    headers: AUTH,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("each route snapshots the tree once before it acts and once for its answer, not once per lookup", async () => {
  const rt = await Runtime.start({
    containers: {
      db: {
        module: "./echo.ts",
        mode: "inline",
        children: { shard: { module: "./echo.ts", mode: "inline" } },
      },
    },
  }, { logLevel: "silent", baseUrl: FIXTURES.href });
  const closing = new AbortController();
  try {
    const seen = counting(rt);
    const app = managementApp(seen.rt, TOKEN, { signal: closing.signal, heartbeat: 0 });

    seen.reset();
    const scaled = await call(app, "POST", "/v1/containers/shard/scale", { replicas: 2 });
    assert.equal(scaled.status, 200, JSON.stringify(scaled.body));
    assert.deepEqual([scaled.body.from, scaled.body.container.replicas], [1, 2]);
    assert.equal(seen.trees(), 2, "scale: one snapshot before (state, lookup), one after");

    seen.reset();
    const spawned = await call(app, "POST", "/v1/containers", {
      name: "cache",
      spec: { module: "./echo.ts", mode: "inline" },
    });
    assert.equal(spawned.status, 201, JSON.stringify(spawned.body));
    assert.equal(seen.trees(), 2, "spawn: one snapshot before (state, conflict), one after");

    seen.reset();
    const unknown = await call(app, "GET", "/v1/containers/nope");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.message, 'no container named "nope" (known: db, shard, cache)');
    assert.equal(seen.trees(), 1, "a 404 names the known containers from the same snapshot");

    seen.reset();
    const restarted = await call(app, "POST", "/v1/containers/shard/restart");
    assert.equal(restarted.status, 200, JSON.stringify(restarted.body));
    assert.equal(seen.trees(), 2, "restart: one snapshot before (state), one after");
  } finally {
    closing.abort();
    await rt.shutdown();
  }
});

Deno.test("POST /v1/containers places a remote container on a host agent: the spec is validated once, by the runtime, with its hosts", async () => {
  const agent = await startAgent("node-b");
  const topology: TopologyInput = {
    name: "dist",
    transports: { name: "root", secret: SECRET, keepalive: "1s" },
    hosts: { "node-b": { address: agent.url } },
    containers: {},
  };
  const rt = await Runtime.start(topology, { logLevel: "silent", baseUrl: FIXTURES.href });
  const closing = new AbortController();
  try {
    const app = managementApp(rt, TOKEN, { signal: closing.signal, heartbeat: 0 });
    const res = await call(app, "POST", "/v1/containers", {
      name: "y",
      spec: { module: "./member.ts", mode: "remote" },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.container.host, "node-b");
    assert.equal(await rt.ref("y").request("whoami"), "y#0.1");
  } finally {
    closing.abort();
    await rt.shutdown();
    await agent.stop();
  }
});
