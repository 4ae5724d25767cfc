// A runtime's transport set: one transport per scheme, each checked when the set is made, and only
// links that linkOver made (both sides proved the secret) are taken from a transport.
import assert from "node:assert/strict";
import type { Transport, TransportLink } from "../../mod.ts";
import { memory } from "../../transports/memory.ts";
import { TransportSet } from "../../transports/transport_set.ts";

/** A link-shaped object no handshake ever made. */
function forged(): TransportLink & { closedByUs: boolean } {
  const link = {
    closedByUs: false,
    close() {
      link.closedByUs = true;
    },
    closed: new Promise<never>(() => {}),
  };
  return link;
}

/** A transport that skips the handshake and hands over `link` instead. */
function skipping(link: TransportLink): Transport {
  return {
    schemes: ["skip"],
    listen(url, options) {
      queueMicrotask(() => options.onLink(link, "nowhere"));
      return Promise.resolve({ url, close: () => Promise.resolve() });
    },
    dial: () => Promise.resolve(link),
  };
}

Deno.test("a transport's dial that hands back a link linkOver did not make is refused, and that link closed", async () => {
  const link = forged();
  const set = new TransportSet([skipping(link)]);
  await assert.rejects(set.dial("skip://x", { secret: "s" }), {
    name: "TypeError",
    message:
      "the skip:// transport's dial handed over a link that linkOver() did not make; a transport's links must come from linkOver (both sides prove the secret there)",
  });
  assert.ok(link.closedByUs);
});

Deno.test("a transport's listener that hands over a link linkOver did not make never reaches onLink", async () => {
  const link = forged();
  const set = new TransportSet([skipping(link)]);
  const refused = Promise.withResolvers<[Error, string]>();
  let linked = 0;
  const listener = await set.listen("skip://x", {
    secret: "s",
    onLink: () => linked++,
    onRefused: (error, peer) => refused.resolve([error, peer]),
  });
  const [error, peer] = await refused.promise;
  assert.equal(error.name, "TypeError");
  assert.match(error.message, /skip:\/\/ transport's listen handed over a link that linkOver\(\)/);
  assert.equal(peer, "nowhere");
  assert.equal(linked, 0);
  assert.ok(link.closedByUs);
  await listener.close();
});

Deno.test("links made by linkOver pass through the set", async () => {
  const set = new TransportSet([memory()]);
  const accepted = Promise.withResolvers<void>();
  const listener = await set.listen(`memory://set-${crypto.randomUUID()}`, {
    secret: "s",
    onLink: (link) => {
      link.onEnvelope = (env) => link.send(env);
      accepted.resolve();
    },
  });
  const link = await set.dial(listener.url, { secret: "s" });
  await accepted.promise;
  const echoed = new Promise((resolve) => (link.onEnvelope = resolve));
  link.send({ k: "pub", t: "hello", b: 1 });
  assert.deepEqual(await echoed, { k: "pub", t: "hello", b: 1 });
  link.close();
  await link.closed;
  await listener.close();
});

Deno.test("a set refuses what is not a transport, a malformed scheme and a scheme served twice, naming the index", () => {
  const ok = memory();
  const cases: [unknown[], string][] = [
    [
      [ok, { schemes: ["x"] }],
      'transports[1] is not a transport: expected { schemes: ["…"], listen(url, options), dial(url, options) }',
    ],
    [
      [{ ...ok, schemes: ["tcp:"] }],
      'transports[0].schemes: "tcp:" is not a URL scheme; expected lower case, a letter then letters, digits, "+", "-" or ".", without ":"',
    ],
    [
      [{ ...ok, schemes: ["TCP"] }],
      'transports[0].schemes: "TCP" is not a URL scheme; expected lower case, a letter then letters, digits, "+", "-" or ".", without ":"',
    ],
    [
      [ok, { ...ok, schemes: ["mine", "memory"] }],
      'transports[1]: "memory://" is served by an earlier transport too; give each scheme one transport',
    ],
  ];
  for (const [transports, message] of cases) {
    assert.throws(() => new TransportSet(transports as Transport[]), {
      name: "TypeError",
      message,
    });
  }
  assert.throws(() => new TransportSet("tcp" as unknown as Transport[]), {
    message: "transports must be a list of transports, got string",
  });
});
