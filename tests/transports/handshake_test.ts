// The link handshake: both sides prove the secret, bound to each other's fresh nonce; wrong
// secrets, replays, tampering and out-of-order messages fail with AuthenticationError.
import assert from "node:assert/strict";
import { AuthenticationError } from "../../mod.ts";
import {
  DialerHandshake,
  type HandshakeMessage,
  ListenerHandshake,
} from "../../transports/handshake.ts";

async function run(listenerSecret: string, dialerSecret: string) {
  const listener = new ListenerHandshake(listenerSecret);
  const dialer = new DialerHandshake(dialerSecret);
  const prove = await dialer.answer(listener.hello());
  const welcome = await listener.check(prove);
  await dialer.verify(welcome);
  return { prove, welcome };
}

Deno.test("handshake: the same secret on both sides authenticates both ways", async () => {
  await run("s3cret", "s3cret");
});

Deno.test("handshake: a dialer with a wrong secret is refused by the listener", async () => {
  await assert.rejects(
    run("s3cret", "guess"),
    (e: Error) =>
      e instanceof AuthenticationError && /does not hold the secret/.test(e.message) &&
      !e.message.includes("s3cret") && !e.message.includes("guess"),
  );
});

Deno.test("handshake: a listener without the secret cannot fool the dialer", async () => {
  const dialer = new DialerHandshake("s3cret");
  const impostor = new ListenerHandshake("other");
  const prove = await dialer.answer(impostor.hello());
  // The impostor cannot check the proof, so it forges a welcome from its own secret.
  const forged: HandshakeMessage = { k: "welcome", proof: new Uint8Array(32).fill(7) };
  await assert.rejects(dialer.verify(forged), /listener does not hold the secret/);
  await assert.rejects(impostor.check(prove), AuthenticationError);
});

Deno.test("handshake: a captured dialer proof replayed to a new listener fails", async () => {
  const { prove } = await run("s3cret", "s3cret");
  const fresh = new ListenerHandshake("s3cret");
  fresh.hello();
  await assert.rejects(fresh.check(prove), /wrong proof/);
});

Deno.test("handshake: a captured welcome replayed to a new dialer fails", async () => {
  const { welcome } = await run("s3cret", "s3cret");
  const listener = new ListenerHandshake("s3cret");
  const dialer = new DialerHandshake("s3cret");
  await dialer.answer(listener.hello());
  await assert.rejects(dialer.verify(welcome), /wrong proof/);
});

Deno.test("handshake: malformed, out-of-order and wrong-version messages are refused", async () => {
  const listener = new ListenerHandshake("s");
  await assert.rejects(listener.check({ k: "prove" }), /out of order/);
  listener.hello();
  await assert.rejects(listener.check({ k: "prove", nonce: "x", proof: 1 }), /malformed proof/);
  await assert.rejects(listener.check({ k: "prove" }), /out of order/);
  const dialer = new DialerHandshake("s");
  await assert.rejects(dialer.verify({ k: "welcome" }), /out of order/);
  await assert.rejects(
    dialer.answer({ k: "hello", v: 99, nonce: new Uint8Array(32) }),
    /version 99/,
  );
  await assert.rejects(new DialerHandshake("s").answer(null), /expected the listener's hello/);
  const d2 = new DialerHandshake("s");
  await d2.answer(new ListenerHandshake("s").hello());
  await assert.rejects(d2.verify({ k: "denied", reason: "go away" }), /refused this link: go away/);
});

Deno.test("handshake: an empty secret is refused before anything is sent", () => {
  assert.throws(() => new ListenerHandshake(""), /no secret configured/);
  assert.throws(() => new DialerHandshake(""), AuthenticationError);
});

Deno.test("handshake: nonces come from the injected source, so runs are reproducible", async () => {
  const fixed = (b: Uint8Array) => b.fill(1);
  const a = await new DialerHandshake("s", fixed).answer(new ListenerHandshake("s", fixed).hello());
  const b = await new DialerHandshake("s", fixed).answer(new ListenerHandshake("s", fixed).hello());
  assert.deepEqual(a, b);
});
