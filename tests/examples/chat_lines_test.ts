// The chat example's pure parts: the line protocol, its bounds, and presence with leases.
import assert from "node:assert/strict";
import {
  cleanText,
  LineReader,
  MAX_LINE_BYTES,
  parseLine,
  RateLimit,
  roomName,
} from "../../examples/chat/lines.ts";
import { Presence } from "../../examples/chat/presence.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("chat: a line reader cuts lines at \\n and \\r\\n across reads", () => {
  const reader = new LineReader(16);
  assert.deepEqual(reader.push(bytes("hel")), []);
  assert.deepEqual(reader.push(bytes("lo\r\nwor")), [{ line: "hello" }]);
  assert.deepEqual(reader.push(bytes("ld\n\n")), [{ line: "world" }, { line: "" }]);
});

Deno.test("chat: a line over the bound is refused once, skipped to its end, and the next line reads", () => {
  const reader = new LineReader(8);
  assert.deepEqual(reader.push(bytes("123456")), []);
  assert.deepEqual(reader.push(bytes("789")), [{ tooLong: 9 }]);
  // The rest of the long line is dropped as it arrives, however much of it comes.
  for (let i = 0; i < 100; i++) assert.deepEqual(reader.push(bytes("x".repeat(1000))), []);
  assert.deepEqual(reader.push(bytes("tail\nok\n")), [{ line: "ok" }]);
  // A long line inside one read is refused too.
  assert.deepEqual(reader.push(bytes("123456789\nfine\n")), [{ tooLong: 9 }, { line: "fine" }]);
});

Deno.test("chat: a line of exactly the bound is accepted, one byte more is not", () => {
  const reader = new LineReader();
  const [at] = reader.push(bytes(`${"a".repeat(MAX_LINE_BYTES)}\n`));
  assert.ok("line" in at && at.line.length === MAX_LINE_BYTES);
  assert.deepEqual(reader.push(bytes(`${"a".repeat(MAX_LINE_BYTES + 1)}\n`)), [
    { tooLong: MAX_LINE_BYTES + 1 },
  ]);
});

Deno.test("chat: control characters and bidi overrides never reach another user", () => {
  assert.equal(cleanText("\x1b[2Jhi\x07 there\u202e!\t"), "[2Jhi there!");
  assert.equal(cleanText("a\r\nb"), "a  b");
});

Deno.test("chat: commands, nicks and rooms are read by their rules", () => {
  assert.deepEqual(parseLine("hello all"), { kind: "say", text: "hello all" });
  assert.deepEqual(parseLine("/nick ada_1"), { kind: "nick", nick: "ada_1" });
  assert.deepEqual(parseLine("/join #Deno"), { kind: "join", room: "deno" });
  assert.deepEqual(parseLine("/WHO"), { kind: "who" });
  assert.deepEqual(parseLine("   "), { kind: "empty" });
  for (const bad of ["/nick 1ada", "/nick a b", `/nick ${"a".repeat(25)}`, "/nick <b>"]) {
    const command = parseLine(bad);
    assert.equal(command.kind, "invalid", bad);
  }
  assert.match((parseLine("/join ../etc") as { reason: string }).reason, /bad room "\.\.\/etc"/);
  assert.match((parseLine("/kick bob") as { reason: string }).reason, /unknown command "\/kick"/);
  assert.equal(roomName("#ok-room_1"), "ok-room_1");
  assert.equal(roomName("a".repeat(33)), undefined);
});

Deno.test("chat: flood control lets a burst through, then the refill rate", () => {
  const limit = new RateLimit({ burst: 3, perSecond: 2, now: 0 });
  assert.deepEqual([1, 2, 3, 4].map(() => limit.take(0)), [true, true, true, false]);
  assert.equal(limit.take(400), false); // 0.8 of a token
  assert.equal(limit.take(500), true);
  assert.equal(limit.take(10_000), true); // a long pause refills only up to the burst
  assert.deepEqual([1, 2, 3].map(() => limit.take(10_000)), [true, true, false]);
});

Deno.test("chat: presence keeps nicks unique whatever their case", () => {
  const p = new Presence({ lease: 1000 });
  assert.deepEqual(p.set({ id: "a/1", nick: "Ada", room: "lobby", instance: "a" }, 0), {
    ok: true,
  });
  assert.deepEqual(p.set({ id: "b/1", nick: "ada", room: "lobby", instance: "b" }, 0), {
    ok: false,
    reason: "taken",
  });
  p.set({ id: "a/1", nick: "Lovelace", room: "lobby", instance: "a" }, 0);
  assert.deepEqual(p.set({ id: "b/1", nick: "ada", room: "deno", instance: "b" }, 0), { ok: true });
  assert.deepEqual(p.who("lobby"), ["Lovelace"]);
  assert.deepEqual(p.rooms(), [{ room: "deno", users: 1 }, { room: "lobby", users: 1 }]);
  p.leave("a/1");
  assert.deepEqual(p.who("lobby"), []);
});

Deno.test("chat: a replica that stops syncing loses its users once its lease runs out", () => {
  const p = new Presence({ lease: 1000 });
  p.sync("chat#1.1", [{ id: "1", nick: "ada", room: "lobby" }], 0);
  p.sync("chat#2.1", [{ id: "2", nick: "bob", room: "lobby" }], 0);
  assert.deepEqual(p.who("lobby"), ["ada", "bob"]);
  p.sync("chat#2.1", [{ id: "2", nick: "bob", room: "lobby" }], 900);
  assert.deepEqual(p.sweep(1000), []);
  // chat#1.1 died without a word: its members are dropped, and returned for their rooms to hear.
  assert.deepEqual(p.sweep(1001), [{ id: "1", nick: "ada", room: "lobby", instance: "chat#1.1" }]);
  assert.deepEqual(p.who("lobby"), ["bob"]);
  // Its nick is free again.
  assert.deepEqual(p.set({ id: "3", nick: "ada", room: "lobby", instance: "chat#2.1" }, 1001), {
    ok: true,
  });
});

Deno.test("chat: a sync replaces a replica's list, and a goodbye drops it at once", () => {
  const p = new Presence({ lease: 1000 });
  p.set({ id: "1", nick: "ada", room: "lobby", instance: "x" }, 0);
  p.set({ id: "2", nick: "bob", room: "lobby", instance: "x" }, 0);
  p.sync("x", [{ id: "2", nick: "bob", room: "deno" }], 10); // ada's leave was lost
  assert.deepEqual(p.who("lobby"), []);
  assert.deepEqual(p.who("deno"), ["bob"]);
  p.drop("x");
  assert.deepEqual(p.rooms(), []);
});
