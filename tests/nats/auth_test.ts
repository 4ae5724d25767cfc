// Signed NATS messages as a pure function of bytes and a wall clock moved by hand: what a
// signature covers, replays, clocks apart, and the trailer's layout (pinned against node:crypto,
// so another language can sign and check them).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { NatsAuth, SIGNED_WITHIN, TRAILER } from "../../distribution/_nats_auth.ts";

const A = "aaaaaaaaaaaaaaaa";
const B = "bbbbbbbbbbbbbbbb";

function pair(secret = "s3cret") {
  const clock = { now: 1_800_000_000_000 };
  const now = () => clock.now;
  return {
    clock,
    a: new NatsAuth({ secret, id: A, now }),
    b: new NatsAuth({ secret, id: B, now }),
  };
}

/** A signed message: `size` payload bytes and the trailer. */
function sealed(
  auth: NatsAuth,
  size: number,
  subject = "kraken.shop.c.api",
  reply = "",
): Uint8Array {
  const data = new Uint8Array(size + TRAILER).fill(7, 0, size);
  auth.seal(subject, reply, data);
  return data;
}

const why = (result: unknown) => (result as { why?: string }).why ?? "accepted";

Deno.test("a message signed with the application's secret is opened: its signer and where its payload ends", () => {
  const { a, b } = pair();
  for (const size of [1, 100, 600, 60_000]) {
    assert.deepEqual(b.open("kraken.shop.c.api", "", sealed(a, size)), { signer: A, end: size });
  }
});

Deno.test("a signature binds its subject, reply subject, payload and trailer: any change is refused", () => {
  const { a, b } = pair();
  for (const size of [100, 600]) {
    const subject = "kraken.shop.c.api";
    const reply = "kraken.shop.inbox.a.x.1";
    const data = sealed(a, size, subject, reply);
    assert.match(why(b.open("kraken.shop.c.other", reply, data)), /signature does not match/);
    assert.match(why(b.open(subject, "kraken.shop.inbox.evil.1", data)), /does not match/);
    assert.match(why(b.open(subject, "", data)), /does not match/);
    for (const at of [0, size - 1, size + 3, size + 20, size + TRAILER - 1]) {
      const changed = data.slice();
      changed[at] ^= 1;
      const result = why(b.open(subject, reply, changed));
      assert.notEqual(result, "accepted", `byte ${at} changed`);
    }
    assert.deepEqual(b.open(subject, reply, data), { signer: A, end: size });
  }
});

Deno.test("a message unsigned, or signed with another secret, is refused saying so", () => {
  const { b, clock } = pair();
  const other = new NatsAuth({ secret: "another", id: A, now: () => clock.now });
  assert.match(why(b.open("s", "", sealed(other, 10, "s"))), /not signed with this application's/);
  assert.match(why(b.open("s", "", new Uint8Array([0x80]))), /not signed/);
  assert.match(why(b.open("s", "", new Uint8Array(60))), /not signed \(no signer id\)/);
});

Deno.test("a copy of a message is a replay; messages out of order within the last 1024 are not", () => {
  const { a, b } = pair();
  const sent = Array.from({ length: 2_000 }, () => sealed(a, 5, "s"));
  for (const n of [0, 1, 3, 2, 1500, 1200, 1999]) {
    assert.deepEqual(b.open("s", "", sent[n]), { signer: A, end: 5 }, `message ${n + 1}`);
  }
  assert.match(why(b.open("s", "", sent[1200])), /a replay: message 1201 of runtime a{16}/);
  assert.match(why(b.open("s", "", sent[1999])), /a replay/);
  // Never seen, but older than the window below the highest counter: refused all the same.
  assert.match(why(b.open("s", "", sent[900])), /older than its last 1024/);
  assert.deepEqual(b.open("s", "", sent[1000]), { signer: A, end: 5 }, "inside the window");
});

Deno.test("a message signed more than 60 s off the receiver's clock is refused, naming how far", () => {
  const { a, b, clock } = pair();
  const early = sealed(a, 5, "s");
  clock.now += SIGNED_WITHIN + 5_000;
  assert.match(why(b.open("s", "", early)), /signed 65 s behind this runtime's clock/);
  const late = sealed(a, 5, "s");
  clock.now -= 2 * SIGNED_WITHIN;
  assert.match(why(b.open("s", "", late)), /signed 120 s ahead of this runtime's clock/);
  clock.now += SIGNED_WITHIN;
  assert.deepEqual(b.open("s", "", late), { signer: A, end: 5 }, "exactly 60 s apart is accepted");
});

Deno.test("a signer silent for the window is forgotten; its old messages are then refused as too old", () => {
  const { a, b, clock } = pair();
  const first = sealed(a, 5, "s");
  assert.deepEqual(b.open("s", "", first), { signer: A, end: 5 });
  clock.now += SIGNED_WITHIN + 1;
  b.forget();
  assert.match(why(b.open("s", "", first)), /behind this runtime's clock/);
  assert.deepEqual(b.open("s", "", sealed(a, 5, "s")), { signer: A, end: 5 });
});

Deno.test('the trailer is signer id, counter, time and HMAC-SHA256 under HMAC(secret, "kraken/nats/v1"), truncated to 16 bytes', () => {
  const { a, clock } = pair("s3cret");
  const key = createHmac("sha256", "s3cret").update("kraken/nats/v1").digest();
  for (const size of [40, 5_000]) {
    const subject = "kraken.shop.c.api";
    const reply = "kraken.shop.inbox.a.x.7";
    const data = sealed(a, size, subject, reply);
    const trailer = new DataView(data.buffer, size);
    assert.equal(new TextDecoder().decode(data.subarray(size, size + 16)), A);
    assert.equal(trailer.getUint32(16) * 2 ** 32 + trailer.getUint32(20), size === 40 ? 1 : 2);
    assert.equal(trailer.getUint32(24) * 2 ** 32 + trailer.getUint32(28), clock.now);
    const head = new Uint8Array(8 + subject.length + reply.length);
    const view = new DataView(head.buffer);
    view.setUint32(0, subject.length);
    head.set(new TextEncoder().encode(subject), 4);
    view.setUint32(4 + subject.length, reply.length);
    head.set(new TextEncoder().encode(reply), 8 + subject.length);
    const expected = createHmac("sha256", key).update(head).update(data.subarray(0, size + 32))
      .digest().subarray(0, 16);
    assert.deepEqual(data.subarray(size + 32), new Uint8Array(expected));
  }
});

Deno.test("a signer id is 16 ASCII characters", () => {
  assert.throws(() => new NatsAuth({ secret: "s", id: "short" }), RangeError);
});
