// The game example, run from its own kraken.yaml (gateway on a free port, the rooms' store in a
// temporary folder): two players in one room see each other move at the room's ticks, across the
// two gateway replicas; a room whose replica is killed comes back on its new owner with its
// players and their places, and ticks on; bad input is refused; a shutdown closes every socket
// and saves every room.
import assert from "node:assert/strict";
import type { Runtime } from "../../mod.ts";
import { MAX_MESSAGE_BYTES, TICK_HZ } from "../../examples/game/protocol.ts";
import { waitUntil } from "../_wait.ts";
import { gatewayPort, Player, startGame, where } from "./_game_clients.ts";

/** Runs `body` on a fresh game; every player it opened is closed, the runtime shut down. */
async function withGame(
  body: (rt: Runtime, players: Player[], dir: string) => Promise<void>,
  mode: "worker" | "process" = "worker",
  change?: Parameters<typeof startGame>[2],
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kraken-game-" });
  const players: Player[] = [];
  try {
    const rt = await startGame(dir, mode, change);
    try {
      await body(rt, players, dir);
    } finally {
      await Promise.all(players.map((p) => p.close()));
      await rt.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Two players in `room`, on the two gateway replicas (the kernel picks: retried until so). */
async function twoPlayers(port: number, room: string): Promise<[Player, Player]> {
  const ada = await Player.join(port, room, "ada");
  for (let attempt = 0; attempt < 40; attempt++) {
    const bob = await Player.join(port, room, "bob");
    if (bob.gateway !== ada.gateway) return [ada, bob];
    await bob.close();
  }
  await ada.close();
  throw new Error(`40 connections all landed on ${ada.gateway}`);
}

Deno.test("game: two players on different gateway replicas see each other's moves at the room's ticks", async () => {
  await withGame(async (rt, players) => {
    const port = gatewayPort(rt);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(await page.text(), /<script src="\/app.js"/);
    const script = await (await fetch(`http://127.0.0.1:${port}/app.js`)).text();
    assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);

    const [ada, bob] = await twoPlayers(port, "arena");
    players.push(ada, bob);
    assert.notEqual(ada.gateway, bob.gateway);
    const start = await bob.state((s) => where(s, ada.id) !== undefined && !!where(s, bob.id));
    const from = where(start, ada.id)!;
    ada.move(from.x < 20 ? 1 : -1, 0); // toward the middle: 5 cells without reaching a wall
    const moved = await bob.state((s) => Math.abs(where(s, ada.id)!.x - from.x) >= 5);
    assert.equal(where(moved, ada.id)!.y, from.y);
    assert.ok(moved.tick >= start.tick + 5, `5 cells take 5 ticks: ${start.tick} → ${moved.tick}`);
    ada.move(0, 0);
    // And the other way round: ada sees bob's move.
    const bobFrom = where(await ada.state(() => true), bob.id)!;
    bob.move(0, bobFrom.y < 15 ? 1 : -1);
    await ada.state((s) => Math.abs(where(s, bob.id)!.y - bobFrom.y) >= 3);

    // Snapshots come at the room's tick rate (10 Hz: about 10 a second, whatever the load).
    const before = ada.messages.filter((m) => m.t === "state").length;
    await new Promise((r) => setTimeout(r, 1000));
    const count = ada.messages.filter((m) => m.t === "state").length - before;
    assert.ok(count >= TICK_HZ / 2 && count <= TICK_HZ * 1.5, `${count} snapshots in 1 s`);
  });
});

Deno.test("game: kill -9 of the rooms replica owning a room: it comes back on its new owner with its players and places, and ticks on", async () => {
  await withGame(
    async (rt, players) => {
      const port = gatewayPort(rt);
      const [ada, bob] = await twoPlayers(port, "crashy");
      players.push(ada, bob);
      const first = await ada.state((s) => s.players.length === 2);
      ada.move(where(first, ada.id)!.x < 20 ? 1 : -1, 0);
      await ada.state((s) => where(s, ada.id)!.x !== where(first, ada.id)!.x);
      ada.move(0, 0);
      // Stopped: the room checkpoints within a second of the last change; wait for two.
      await new Promise((r) => setTimeout(r, 2500));
      const last = await bob.state(() => true);
      const owner = last.instance;
      const rooms = rt.tree().containers.find((c) => c.name === "rooms")!;
      Deno.kill(rooms.instances.find((i) => i.id === owner)!.pid!, "SIGKILL");
      const killed = bob.messages.length;

      // The gateways' next `alive` activates the room on whichever replica owns it now.
      const back = await bob.state((s) => s.instance !== owner, 10_000);
      assert.deepEqual(where(back, ada.id), where(last, ada.id));
      assert.deepEqual(where(back, bob.id), where(last, bob.id));
      assert.deepEqual(back.players.map((p) => p.name).sort(), ["ada", "bob"]);
      // The tick count comes back from the checkpoint (taken after the last move) and goes on.
      assert.ok(back.tick >= first.tick, `tick ${back.tick} restored from ≥ ${first.tick}`);
      // The killed replica's successor owns the room again once it runs (a restarted replica owns
      // what it owned), so the room may move once more; until the survivor hands off (at its next
      // sweep, within a second) both activations tick. Once settled, one activation ticks on.
      await waitUntil(
        () =>
          rt.tree().containers.find((c) => c.name === "rooms")!.instances
            .filter((i) => i.state === "running").length === 2,
        10_000,
        "the killed replica to be back",
      );
      await new Promise((r) => setTimeout(r, 1500)); // the hand-off
      const mark = ada.messages.length;
      const settled = await ada.state(() => true);
      const later = await ada.state((s) => s.tick >= settled.tick + 5);
      const instances = ada.messages.slice(mark).flatMap((m) =>
        m.t === "state" ? [m.instance] : []
      );
      assert.deepEqual([...new Set(instances)], [settled.instance]);
      assert.deepEqual(where(later, ada.id), where(last, ada.id));
      // The room moved once or twice, but no player saw two activations at once: each instance's
      // snapshots came in one run (the gateway relays the activation the room's messages reach).
      const runs = bob.messages.slice(killed).flatMap((m) => m.t === "state" ? [m.instance] : [])
        .filter((instance, i, all) => i === 0 || all[i - 1] !== instance);
      assert.equal(new Set(runs).size, runs.length, `no flicker: ${runs.join(" → ")}`);
      // The sockets stayed up (the gateways did not go), and moves reach the room again.
      assert.ok(!ada.closed && !bob.closed);
      const from = where(later, bob.id)!;
      bob.move(0, from.y < 15 ? 1 : -1);
      await ada.state((s) => Math.abs(where(s, bob.id)!.y - from.y) >= 2);
    },
    "process",
    (t) => {
      // The killed replica comes back 1.5 s later, so the room moves to the survivor first, then
      // back to the successor: the case where two activations may tick for a moment.
      (t as { supervisor?: unknown }).supervisor = {
        backoff: { min: "1500ms", max: "1500ms", jitter: 0 },
      };
    },
  );
});

Deno.test("game: a dropped player comes back with its key to the same place; one that leaves goes at once, one that vanishes after its lease", async () => {
  await withGame(async (rt, players) => {
    const port = gatewayPort(rt);
    const [ada, bob] = await twoPlayers(port, "return");
    players.push(ada, bob);
    const start = await bob.state((s) => s.players.length === 2);
    ada.move(where(start, ada.id)!.x < 20 ? 1 : -1, 0);
    await bob.state((s) => where(s, ada.id)!.x !== where(start, ada.id)!.x);
    ada.move(0, 0);
    await new Promise((r) => setTimeout(r, 300));
    const before = where(await bob.state(() => true), ada.id)!;
    // Dropped without leaving (a network blip, a gateway replica gone): the seat is kept...
    await ada.close(4000);
    const again = await Player.join(port, "return", "ada", ada.key);
    players.push(again);
    assert.equal(again.id, ada.id);
    const back = await again.state(() => true);
    assert.deepEqual(where(back, ada.id), before);
    assert.equal(back.players.length, 2);
    // ...and a key not of the server's making is refused before the upgrade (a well-formed
    // unknown one seats a new player: a key is 122 random bits, not guessed into a seat).
    const guess = await fetch(
      `http://127.0.0.1:${port}/ws?room=return&name=ada&key=${"0".repeat(36)}`,
      {
        headers: { upgrade: "websocket" },
      },
    );
    assert.equal(guess.status, 400);
    await guess.body?.cancel();
    // Leaving on purpose (1000): gone from the next snapshots.
    await again.close(1000);
    await bob.state((s) => where(s, ada.id) === undefined, 2000);
    // Vanishing (no close at all reaches the room): gone once no gateway vouched for it for 5 s.
    const cy = await Player.join(port, "return", "cy");
    players.push(cy);
    await bob.state((s) => where(s, cy.id) !== undefined);
    await cy.close(4000);
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(where(await bob.state(() => true), cy.id), "kept during its lease");
    await bob.state((s) => where(s, cy.id) === undefined, 5000);
  });
});

Deno.test("game: bad input is refused: foreign origin, bad query, oversize, malformed, floods", async () => {
  await withGame(async (rt, players) => {
    const port = gatewayPort(rt);
    const upgrade = {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    };
    // A page of another site may not play in its visitor's name.
    const foreign = await fetch(`http://127.0.0.1:${port}/ws?room=a&name=eve`, {
      headers: { ...upgrade, origin: "http://elsewhere.example" },
    });
    assert.equal(foreign.status, 403);
    await foreign.body?.cancel();
    for (
      const [query, field] of [
        ["room=A%20B&name=eve", /bad room/],
        ["room=a&name=%3Cb%3E", /bad name/],
        ["room=a&name=eve&key=guess", /bad key/],
        [`room=${"r".repeat(33)}&name=eve`, /bad room/],
      ] as const
    ) {
      const response = await fetch(`http://127.0.0.1:${port}/ws?${query}`, { headers: upgrade });
      assert.equal(response.status, 400, query);
      assert.match(await response.text(), field);
    }

    const [eve, bob] = await twoPlayers(port, "rules");
    players.push(eve, bob);
    eve.send("x".repeat(MAX_MESSAGE_BYTES + 1));
    assert.match(await eve.error(), /at most 256/);
    eve.send("{not json");
    assert.match(await eve.error(), /expected JSON/);
    eve.send(JSON.stringify({ t: "teleport", x: 0, y: 0 }));
    assert.match(await eve.error(), /unknown message/);
    eve.send(JSON.stringify({ t: "move", dx: 40, dy: 0 }));
    assert.match(await eve.error(), /-1, 0 or 1/);
    eve.send(new Uint8Array([1, 2, 3]));
    assert.match(await eve.error(), /text message/);
    // A flood: the burst goes through, the rest is dropped and the player told.
    for (let i = 0; i < 60; i++) eve.move(0, 0);
    assert.match(await eve.error(), /slow down/);
    // Still playing after all that, and nobody else was touched.
    await new Promise((r) => setTimeout(r, 1100)); // the bucket fills again
    const from = where(await bob.state(() => true), eve.id)!;
    eve.move(0, from.y < 15 ? 1 : -1);
    await bob.state((s) => Math.abs(where(s, eve.id)!.y - from.y) >= 2);
    assert.ok(!bob.messages.some((m) => m.t === "error"));
    // A connection that keeps sending garbage is closed (1008).
    // (One at a time: what a client sends after the server's close frame is not for this test.)
    for (let i = 0; i < 10 && !eve.closed; i++) {
      eve.send("garbage");
      await eve.next((m) => m.t === "error", 2000, eve.messages.length);
    }
    await eve.closedByServer();
    assert.equal(eve.closeCode, 1008);
    assert.ok(!bob.closed);
  });
});

Deno.test("game: a shutdown with players connected closes every socket (1001) and saves every room", async () => {
  await withGame(async (rt, players, dir) => {
    const port = gatewayPort(rt);
    const rooms = ["north", "south"];
    for (const room of rooms) players.push(await Player.join(port, room, "ada"));
    for (const p of players) await p.state((s) => s.players.length === 1);
    players[0].move(1, 1);
    const moved = await players[0].state((s) => s.tick > 0 && where(s, players[0].id)!.x > 0);
    await rt.shutdown();
    for (const p of players) {
      await p.closedByServer();
      assert.equal(p.closeCode, 1001);
    }
    const saved = [...Deno.readDirSync(`${dir}/rooms`)].map((f) => f.name).sort();
    assert.deepEqual(saved, ["north.msgpack", "south.msgpack"]);
    assert.ok(moved.tick > 0);
  });
});

/** Asks for an upgrade with fetch: what a refused upgrade answers (status and reason). */
async function upgradeStatus(port: number, query: string): Promise<[number, string]> {
  const response = await fetch(`http://127.0.0.1:${port}/ws?${query}`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  return [response.status, await response.text()];
}

Deno.test("game: a gateway replica refuses (503) a room past max_rooms and a connection past max_per_address, and an emptied room leaves no file", async () => {
  await withGame(
    async (rt, players, dir) => {
      const port = gatewayPort(rt);
      const ada = await Player.join(port, "r1", "ada");
      players.push(ada);
      const bob = await Player.join(port, "r2", "bob");
      players.push(bob);
      const [status, reason] = await upgradeStatus(port, "room=r3&name=eve");
      assert.equal(status, 503);
      assert.match(reason, /most rooms open \(2\)/);
      // A room in play still takes players, up to the connections one address may hold.
      players.push(await Player.join(port, "r1", "carol"));
      const [again, why] = await upgradeStatus(port, "room=r1&name=dan");
      assert.equal(again, 503);
      assert.match(why, /too many connections from 127\.0\.0\.1: at most 3/);

      // bob leaves: r2 is empty, so it is passivated and forgotten (its join checkpoint deleted),
      // and its place and bob's connection are free again.
      const file = `${dir}/rooms/r2.msgpack`;
      assert.ok(Deno.statSync(file).isFile, "a join checkpoints the room");
      await bob.close();
      await waitUntil(() => !exists(file), 5000, "the empty room's file to be deleted");
      let eve: Player | undefined;

      for (let attempt = 0; attempt < 20 && !eve; attempt++) {
        eve = await Player.join(port, "r3", "eve").catch(() => undefined);
        if (!eve) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(eve, "a new room opens once another emptied");
      players.push(eve);
    },
    "worker",
    (topology) => {
      const gateway = topology.containers.gateway;
      gateway.replicas = 1; // the bounds are per replica: one, for counts the test can know
      gateway.config = { ...(gateway.config as object), max_rooms: 2, max_per_address: 3 };
    },
  );
});

Deno.test("game: a message over the gateway's max_message closes the socket (1009); one over 256 bytes is refused unread", async () => {
  await withGame(async (rt, players) => {
    const port = gatewayPort(rt);
    const eve = await Player.join(port, "big", "eve");
    players.push(eve);
    eve.send("x".repeat(1000));
    assert.match(await eve.error(), /message of at least 1000 bytes: at most 256/);
    eve.send("x".repeat(1025)); // over the 1KiB of kraken.yaml
    await eve.closedByServer();
    assert.equal(eve.closeCode, 1009);
  });
});

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
