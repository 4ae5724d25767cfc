// Links between runtimes over tcp://, unix:// and memory://: authenticated before any envelope,
// refusing wrong secrets, early messages and oversize handshake frames, while legitimate peers
// keep being served.
import assert from "node:assert/strict";
import { untilClosed, waitUntil } from "../_wait.ts";
import { AuthenticationError } from "../../mod.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import type { Link } from "../../transports/link.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { openLink } from "../../transports/link_over.ts";
import { TransportSet } from "../../transports/transport_set.ts";
import type { Listener } from "../../transports/transport.ts";

/** The built-in transports, as a runtime given none uses them. */
const builtin = new TransportSet(defaultTransports());

const SECRET = "correct horse battery staple";

interface Served {
  listener: Listener;
  links: Link[];
  refused: Error[];
}

/**
 * A listener that echoes every envelope back. Through the set (which reports refusals at most
 * once a second), or, `raw`, through the transport itself, which reports each one.
 */
async function echoServer(url: string, raw = false): Promise<Served> {
  const served: Served = { listener: undefined as unknown as Listener, links: [], refused: [] };
  const options = {
    secret: SECRET,
    handshakeTimeout: 500,
    onLink(link: Link) {
      served.links.push(link);
      link.onEnvelope = (env) => link.send(env);
    },
    onRefused(error: Error) {
      served.refused.push(error);
    },
  };
  served.listener = raw
    ? await builtin.transportFor(new URL(url)).listen(new URL(url), {
      ...options,
      onLink: (link) => options.onLink(openLink(link)!),
    })
    : await builtin.listen(url, options);
  return served;
}

async function roundTrip(link: Link, n: number): Promise<Envelope[]> {
  const got: Envelope[] = [];
  const all = new Promise<void>((resolve) => {
    link.onEnvelope = (env) => {
      got.push(env);
      if (got.length === n) resolve();
    };
  });
  for (let i = 0; i < n; i++) link.send({ k: "send", to: "x#0.1", t: "echo", b: { i } });
  await all;
  return got;
}

async function stop(served: Served, ...links: Link[]) {
  for (const link of [...links, ...served.links]) link.close();
  await Promise.all([...links, ...served.links].map((l) => l.closed));
  await served.listener.close();
  if (served.listener.url.protocol === "unix:") {
    const path = decodeURIComponent(served.listener.url.pathname);
    Deno.removeSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  }
}

const sock = () => `unix://${Deno.makeTempDirSync()}/k.sock`;

for (
  const make of [
    () => "tcp://127.0.0.1:0",
    sock,
    () => `memory://echo-${crypto.randomUUID()}`,
    () => "ws://127.0.0.1:0/kraken",
  ]
) {
  const scheme = make().split(":")[0];
  Deno.test(`${scheme}: an authenticated link carries envelopes both ways, in order`, async () => {
    const served = await echoServer(make());
    const link = await builtin.dial(served.listener.url, { secret: SECRET });
    const got = await roundTrip(link, 1000);
    assert.deepEqual(got.map((e) => (e as { b: { i: number } }).b.i), [...Array(1000).keys()]);
    await stop(served, link);
  });

  Deno.test(`${scheme}: a wrong secret fails with AuthenticationError on both sides; others are still served`, async () => {
    const served = await echoServer(make());
    await assert.rejects(
      builtin.dial(served.listener.url, { secret: "wrong" }),
      (e: Error) => e instanceof AuthenticationError && !e.message.includes(SECRET),
    );
    await waitUntil(() => served.refused.length > 0, 5000, "the listener to refuse the impostor");
    assert.ok(served.refused[0] instanceof AuthenticationError);
    assert.equal(served.links.length, 0, "no link for the impostor");
    const link = await builtin.dial(served.listener.url, { secret: SECRET });
    assert.equal((await roundTrip(link, 3)).length, 3);
    await stop(served, link);
  });

  for (const closer of ["listener", "dialer"]) {
    Deno.test(`${scheme}: a link closed by the ${closer} mid-flood (both ways) raises nothing; others are still served`, async () => {
      const served = await echoServer(make()); // it echoes the flood back
      const link = await builtin.dial(served.listener.url, { secret: SECRET });
      link.onEnvelope = () => {};
      for (let turn = 0; turn < 30; turn++) {
        for (let i = 0; i < 500; i++) link.send({ k: "send", to: "x#0.1", t: "flood", b: { i } });
        if (turn === 5) (closer === "listener" ? served.links[0] : link).close();
        await new Promise((r) => setTimeout(r, 1));
      }
      assert.equal((await link.closed).kind, closer === "listener" ? "eof" : "closed");
      const other = await builtin.dial(served.listener.url, { secret: SECRET });
      assert.equal((await roundTrip(other, 3)).length, 3);
      await new Promise((r) => setTimeout(r, 20)); // late messages for the closed link land now
      await stop(served, other);
    });
  }

  Deno.test(`${scheme}: a burst of 150,000 sends in one turn (more than one frame holds) arrives whole`, async () => {
    const served = await echoServer(make());
    const link = await builtin.dial(served.listener.url, { secret: SECRET });
    const got = await roundTrip(link, 150_000);
    assert.equal(got.length, 150_000);
    assert.equal((got[149_999] as { b: { i: number } }).b.i, 149_999);
    await stop(served, link);
  });
}

async function rawTcp(url: URL, bytes: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  try {
    await conn.write(bytes).catch(() => {});
    await untilClosed(conn, 10_000, "the listener to close the hostile connection");
    return "closed";
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the peer
    }
  }
}

Deno.test("tcp: hostile first frames (early envelopes, 4 GiB prefix, garbage, silence) are refused and closed", async () => {
  const served = await echoServer("tcp://127.0.0.1:0", true);
  const url = served.listener.url;
  const envelopeFirst = new Uint8Array([0, 0, 0, 3, 0x92, 0x01, 0x80]); // [1, {}]: a batch
  const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
  const garbage = crypto.getRandomValues(new Uint8Array(64));
  garbage.set([0, 0, 0, 60], 0);
  for (const bytes of [envelopeFirst, huge, garbage, new Uint8Array(0)]) {
    assert.equal(await rawTcp(url, bytes), "closed");
  }
  await waitUntil(() => served.refused.length >= 4, 10_000, "four refusals");
  const messages = served.refused.map((e) => `${e.name}: ${e.message}`);
  assert.match(messages.join("\n"), /message before authenticating/);
  assert.match(messages.join("\n"), /FrameError: handshake frame of 4294967295 bytes exceeds/);
  assert.match(messages.join("\n"), /did not complete in time/);
  assert.equal(served.links.length, 0);
  const link = await builtin.dial(url, { secret: SECRET });
  assert.equal((await roundTrip(link, 5)).length, 5, "a legitimate client is still served");
  await stop(served, link);
});

Deno.test("dial: an unknown scheme names the ones the set has", async () => {
  await assert.rejects(
    builtin.dial("carrier-pigeon://x", { secret: SECRET }),
    {
      name: "TypeError",
      message:
        'no transport for "carrier-pigeon://" (this runtime\'s transports: tcp://, unix://, ws://, wss://, memory://)',
    },
  );
});

Deno.test("ws: pipelined mid-size messages never stall on Nagle and delayed ACKs (400 round trips of 4 KiB, 4 in flight, well under 2 s)", async () => {
  // Deno's built-in WebSocket client stalls each such message ~40 ms (16 s in all here); the
  // dialer must run with TCP_NODELAY. The bound is 40 times what it takes without the stall.
  const served = await echoServer("ws://127.0.0.1:0/kraken");
  const link = await builtin.dial(served.listener.url, { secret: SECRET });
  const body = "z".repeat(4096);
  let got = 0;
  const began = performance.now();
  await new Promise<void>((resolve) => {
    link.onEnvelope = () => {
      got++;
      if (got === 400) resolve();
      else if (got <= 396) link.send({ k: "send", to: "x#0.1", t: "echo", b: body });
    };
    for (let i = 0; i < 4; i++) link.send({ k: "send", to: "x#0.1", t: "echo", b: body });
  });
  const took = performance.now() - began;
  assert.ok(took < 2_000, `400 round trips took ${Math.round(took)} ms`);
  await stop(served, link);
});
