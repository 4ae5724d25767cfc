// Transports are passed in, not registered: each runtime links with the set it is given (the
// built-in one when none is), a user's transport is one more object in that list, and an address
// no transport of the set serves is refused before anything starts, naming its key.
import assert from "node:assert/strict";
import {
  type ByteConnection,
  defaultTransports,
  linkOver,
  memory,
  Runtime,
  tcp,
  TopologyError,
  type TopologyInput,
  type Transport,
} from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";

const SECRET = "own-transport";

/**
 * A user's transport, written as docs/transports.md shows: `pipe://name` over in-process streams
 * that only the runtimes given this very object can reach (its "server" lives in the closure).
 */
function pipe(): Transport & { dials: number } {
  const servers = new Map<string, (conn: ByteConnection) => void>();
  const transport = {
    schemes: ["pipe"],
    dials: 0,
    listen(url: URL, options: Parameters<Transport["listen"]>[1]) {
      servers.set(url.host, async (conn) => {
        try {
          options.onLink(await linkOver(conn, "listener", options), "pipe");
        } catch (error) {
          options.onRefused?.(error as Error, "pipe");
        }
      });
      return Promise.resolve({
        url,
        close() {
          servers.delete(url.host);
          return Promise.resolve();
        },
      });
    },
    async dial(url: URL, options: Parameters<Transport["dial"]>[1]) {
      transport.dials++;
      const accept = servers.get(url.host);
      if (!accept) throw new Error(`nothing listens on ${url.href}`);
      const ab = new TransformStream<Uint8Array, Uint8Array>();
      const ba = new TransformStream<Uint8Array, Uint8Array>();
      const end = (t: TransformStream<Uint8Array, Uint8Array>) => () => {
        t.writable.close().catch(() => {});
      };
      accept({ readable: ab.readable, writable: ba.writable, close: end(ba) });
      return await linkOver(
        { readable: ba.readable, writable: ab.writable, close: end(ab) },
        "dialer",
        options,
      );
    },
  };
  return transport;
}

function pair(listen: string): { a: TopologyInput; b: TopologyInput } {
  return {
    a: {
      name: "shop",
      transports: { name: "a", listen, secret: SECRET, keepalive: "500ms" },
      containers: { front: { module: "./member.ts", mode: "inline" } },
    },
    b: {
      name: "shop",
      transports: { name: "b", secret: SECRET, keepalive: "500ms" },
      hosts: { a: { address: listen } },
      containers: { back: { module: "./member.ts", mode: "worker" } },
    },
  };
}

const quiet = { logLevel: "silent" as const, baseUrl: FIXTURES.href };

Deno.test("two runtimes link over a user's own transport given in RuntimeOptions.transports", async () => {
  const mine = pipe();
  const { a, b } = pair("pipe://a");
  const rtA = await Runtime.start(a, { ...quiet, transports: [...defaultTransports(), mine] });
  let rtB: Runtime | null = null;
  try {
    rtB = await Runtime.start(b, { ...quiet, transports: [mine] });
    await waitUntil(
      () => rtB!.tree().peers.some((p) => p.state === "connected" && p.containers.length > 0),
      5000,
      "linked over pipe://",
    );
    assert.equal(rtA.listening?.href, "pipe://a");
    assert.equal(await rtB.ref("front").request("whoami"), "front#0.1");
    assert.equal(await rtA.ref("back").request("whoami"), "back#0.1");
    assert.equal(mine.dials, 1);
  } finally {
    await rtB?.shutdown();
    await rtA.shutdown();
  }
});

Deno.test("a runtime given no transports uses the built-in set, which has no user's scheme", async () => {
  const { b } = pair("pipe://a");
  await assert.rejects(Runtime.start(b, quiet), (error: Error) => {
    assert.ok(error instanceof TopologyError);
    assert.equal(error.key, "hosts.a.address");
    assert.equal(
      error.message,
      'topology: hosts.a.address: no transport for "pipe://a" in this runtime (it has tcp://, unix://, ws://, wss://, memory://); expected one of those, or a transport for "pipe" in RuntimeOptions.transports',
    );
    return true;
  });
});

Deno.test("a runtime uses only the transports it is given: memory() alone cannot listen on tcp://", async () => {
  const { a } = pair("tcp://127.0.0.1:0");
  await assert.rejects(
    Runtime.start(a, { ...quiet, transports: [memory()] }),
    {
      name: "TopologyError",
      message:
        'topology: transports.listen: no transport for "tcp://127.0.0.1:0" in this runtime (it has memory://); expected one of those, or a transport for "tcp" in RuntimeOptions.transports',
    },
  );
});

Deno.test("a runtime given two transports for one scheme is refused, naming the second", async () => {
  await assert.rejects(
    Runtime.start(pair("tcp://127.0.0.1:0").a, { ...quiet, transports: [tcp(), memory(), tcp()] }),
    {
      name: "TypeError",
      message:
        'transports[2]: "tcp://" is served by an earlier transport too; give each scheme one transport',
    },
  );
});

Deno.test("a nats:// address is refused before anything starts, pointing at transports.nats", async () => {
  await assert.rejects(
    Runtime.start(pair("nats://127.0.0.1:4222").a, quiet),
    (error: Error) => {
      assert.ok(error instanceof TopologyError);
      assert.equal(error.key, "transports.listen");
      assert.match(error.message, /\(NATS is not an address: set transports\.nats\.servers\)$/);
      return true;
    },
  );
});
