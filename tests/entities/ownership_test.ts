// The owning instance checks ownership again with its own routing table: a message for an id that
// another live replica owns (the sender's table was a moment old) is refused undelivered — no
// handler ran, so the sender may send it to the owner it now sees — and a send is passed on.
import assert from "node:assert/strict";
import type { Envelope } from "../../protocol/envelope.ts";
import type { LinkClosed } from "../../transports/link.ts";
import { entities, type EntityContext } from "../../mod.ts";
import { ownerIndex } from "../../protocol/entity_owner.ts";
import { ContainerInstance } from "../../runtime/_instance.ts";
import { Node } from "../../runtime/_node.ts";
import type { Link } from "../../transports/link.ts";

/** A link to node `w9` that only records what is sent over it. */
function recordingLink(): Link & { sent: Envelope[] } {
  const sent: Envelope[] = [];
  return {
    sent,
    send: (env) => void sent.push(env),
    onEnvelope: () => {},
    close: () => {},
    closed: new Promise<LinkClosed>(() => {}),
  };
}

Deno.test("a replica that does not own an id refuses its request undelivered (naming the owner) and passes its send on, running nothing", async () => {
  const ran: string[] = [];
  const room = entities((e: EntityContext<unknown>) => ({ touch: () => void ran.push(e.id) }));
  const node = new Node("host", { onControl() {}, onLog() {} }, { hub: true });
  const link = recordingLink();
  node.attach("w9", link);
  const owner = recordingLink();
  node.attach("w1", owner);
  const instances = [{ i: "rooms#0.1", n: "host" }, { i: "rooms#1.1", n: "w1" }];
  node.setRoutes({ rooms: { balance: "round_robin", instances } });
  const instance = new ContainerInstance(node, {
    name: "rooms",
    instance: "rooms#0.1",
    config: {},
    shutdown: 100,
    logLevel: "silent",
  }, { exit() {}, stopped() {} });
  await instance.start(room, "room.ts");
  try {
    // An id rooms#1.1 owns, and one this instance owns.
    let other = "";
    let mine = "";
    for (let n = 0; other === "" || mine === ""; n++) {
      const id = `id-${n}`;
      if (instances[ownerIndex(id, instances)].i === "rooms#1.1") other ||= id;
      else mine ||= id;
    }
    node.receive({ k: "req", i: 7, s: "w9", to: "rooms#0.1", t: "touch", e: other }, "w9");
    const refusal = link.sent.find((env) => env.k === "err" && env.i === 7);
    assert.ok(refusal && refusal.k === "err");
    assert.equal(refusal.e.kind, "unavailable");
    assert.equal(refusal.e.undelivered, true);
    assert.match(
      refusal.e.message,
      new RegExp(`entity "${other}" of "rooms" is owned by rooms#1.1`),
    );
    node.receive({ k: "req", i: 8, s: "w9", to: "rooms#0.1", t: "touch", e: mine }, "w9");
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(link.sent.some((env) => env.k === "res" && env.i === 8));
    assert.deepEqual(ran, [mine], "only the id it owns ran here");
    // A send for the other replica's id is passed on to it, with its entity id.
    node.receive({ k: "send", to: "rooms#0.1", t: "touch", e: other }, "w9");
    assert.deepEqual(owner.sent.filter((env) => env.k === "send"), [
      { k: "send", to: "rooms#1.1", t: "touch", b: undefined, e: other },
    ]);
    assert.deepEqual(ran, [mine]);
  } finally {
    await instance.end({ kind: "stopped", message: "test over" });
    node.close();
  }
});
