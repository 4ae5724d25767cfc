// HMAC-SHA256 written for NATS signatures agrees with node:crypto's (an independent
// implementation) on RFC 4231's cases and on random keys and messages fed in random parts.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { HmacSha256, sameBytes } from "../../protocol/_hmac_sha256.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const bytes = (text: string) => new TextEncoder().encode(text);
const filled = (length: number, byte: number) => new Uint8Array(length).fill(byte);

function mac(key: Uint8Array, ...parts: Uint8Array[]): string {
  const h = new HmacSha256(key);
  for (const part of parts) h.update(part);
  return hex(h.finish(new Uint8Array(32)));
}

const reference = (key: Uint8Array, message: Uint8Array) =>
  createHmac("sha256", key).update(message).digest("hex");

Deno.test("HMAC-SHA256 gives RFC 4231's MACs: short, long and block-sized keys and messages", () => {
  assert.equal(
    mac(bytes("Jefe"), bytes("what do ya want for nothing?")),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
  const cases: [Uint8Array, Uint8Array][] = [
    [filled(20, 0x0b), bytes("Hi There")],
    [filled(20, 0xaa), filled(50, 0xdd)],
    [Uint8Array.from({ length: 25 }, (_, i) => i + 1), filled(50, 0xcd)],
    [filled(131, 0xaa), bytes("Test Using Larger Than Block-Size Key - Hash Key First")],
    [
      filled(131, 0xaa),
      bytes(
        "This is a test using a larger than block-size key and a larger than block-size data. " +
          "The key needs to be hashed before being used by the HMAC algorithm.",
      ),
    ],
  ];
  for (const [key, message] of cases) assert.equal(mac(key, message), reference(key, message));
});

Deno.test("HMAC-SHA256 of a message fed in any parts equals node:crypto's, for every length around a block", () => {
  for (let length = 0; length < 300; length++) {
    const key = crypto.getRandomValues(new Uint8Array((length * 7) % 150));
    const message = crypto.getRandomValues(new Uint8Array(length));
    const cut = Math.floor(Math.random() * (length + 1));
    const cut2 = cut + Math.floor(Math.random() * (length - cut + 1));
    const parts = [message.subarray(0, cut), message.subarray(cut, cut2), message.subarray(cut2)];
    assert.equal(mac(key, ...parts), reference(key, message), `length ${length}`);
  }
});

Deno.test("one HmacSha256 computes many MACs in a row; text and 32-bit numbers are hashed as their bytes", () => {
  const key = bytes("k");
  const h = new HmacSha256(key);
  for (let n = 0; n < 3; n++) {
    h.updateText("kraken.shop.c.é");
    h.updateUint32(0x01020304 + n);
    const expected = reference(
      key,
      new Uint8Array([...bytes("kraken.shop.c.é"), 1, 2, 3, 4 + n]),
    );
    assert.equal(hex(h.finish(new Uint8Array(32))), expected);
  }
  const short = h.finish(new Uint8Array(16));
  assert.equal(hex(short), reference(key, new Uint8Array(0)).slice(0, 32), "truncated to 16");
});

Deno.test("MACs are compared byte for byte", () => {
  assert.equal(sameBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])), true);
  assert.equal(sameBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])), false);
  assert.equal(sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])), false);
});
