// The chat example, run from its own kraken.yaml (ports made free): two TCP replicas and the
// WebSocket page share rooms and presence; bounds hold per connection; stopping a replica or the
// whole runtime disconnects its users and leaves no ghost in /who.
import assert from "node:assert/strict";
import type chat from "../../examples/chat/containers/chat.ts";
import { MAX_LINE_BYTES } from "../../examples/chat/lines.ts";
import type { Runtime } from "../../mod.ts";
import { waitUntil } from "../_wait.ts";
import {
  type ChatUser,
  portOf,
  startChat,
  TcpUser,
  usersOnTwoReplicas,
  WebUser,
} from "./_chat_clients.ts";

/** Runs `body` on a fresh chat; every user it opened is closed and the runtime shut down. */
async function withChat(
  body: (rt: Runtime, users: ChatUser[]) => Promise<void>,
  change?: Parameters<typeof startChat>[0],
): Promise<void> {
  const rt = await startChat(change);
  const users: ChatUser[] = [];
  try {
    await body(rt, users);
  } finally {
    await Promise.all(users.map((u) => u.close()));
    await rt.shutdown();
  }
}

/** A lease of 1.5 s (synced every 0.3 s), so a test need not wait the example's 6 s. */
function shortLease(t: { containers: Record<string, Record<string, unknown>> }): void {
  t.containers.rooms.config = { lease: 1500 };
  for (const name of ["chat", "web"]) {
    t.containers[name].config = { ...t.containers[name].config as object, sync_every: 300 };
  }
}

/** Asks /who until it answers `expected` (presence settles a moment after a notice), within 5 s. */
async function whoIs(user: ChatUser, expected: string): Promise<void> {
  const end = performance.now() + 5000;
  let last = "";
  while (performance.now() < end) {
    last = await user.ask("/who", /^\* in #/);
    if (last === expected) return;
    await new Promise((r) => setTimeout(r, 400)); // under the flood control's 5 lines a second
  }
  assert.equal(last, expected);
}

Deno.test("chat: two TCP users on different replicas in one room see each other's messages", async () => {
  await withChat(async (rt, users) => {
    const [ada, bob] = await usersOnTwoReplicas(portOf(rt, "chat"));
    users.push(ada, bob);
    assert.notEqual(ada.instance, bob.instance);
    await ada.rename("ada");
    await bob.rename("bob");
    // One after the other: a subscription reaches the hub a moment after it is made.
    await ada.ask("/join deno", /^\* you are in #deno$/);
    bob.say("/join deno");
    await ada.next(/^\* bob joined #deno$/);
    bob.say("hello from the other replica");
    assert.equal(await ada.next(/^\[deno\]/), "[deno] bob: hello from the other replica");
    ada.say("hi bob");
    assert.equal(await bob.next(/^\[deno\] ada/), "[deno] ada: hi bob");
  });
});

Deno.test("chat: a WebSocket user and a TCP user in one room see each other's messages", async () => {
  await withChat(async (rt, users) => {
    const page = await fetch(`http://127.0.0.1:${portOf(rt, "web")}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(await page.text(), /<script src="\/app.js"/);
    // The page shows lines as text, never as markup.
    const script = await (await fetch(`http://127.0.0.1:${portOf(rt, "web")}/app.js`)).text();
    assert.match(script, /\.textContent = text/);
    assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    // A page of another site may not chat in its visitor's name.
    const foreign = await fetch(`http://127.0.0.1:${portOf(rt, "web")}/ws`, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
        origin: "http://elsewhere.example",
      },
    });
    assert.equal(foreign.status, 403);
    await foreign.body?.cancel();
    const garbled = await fetch(`http://127.0.0.1:${portOf(rt, "web")}/ws`, {
      headers: { upgrade: "websocket", origin: "not a url" },
    });
    assert.equal(garbled.status, 403); // refused, not a 500
    await garbled.body?.cancel();
    const tcp = await TcpUser.connect(portOf(rt, "chat"));
    users.push(tcp);
    const web = await WebUser.connect(portOf(rt, "web"));
    users.push(web);
    assert.match(web.instance, /^web#/);
    await web.rename("browser");
    web.say("<b>hi</b> from the page");
    // Sent as the text it is: the page shows lines with textContent, never as markup.
    assert.equal(await tcp.next(/^\[lobby\] browser/), "[lobby] browser: <b>hi</b> from the page");
    tcp.say("hello page");
    assert.equal(await web.next(/^\[lobby\] guest/), `[lobby] ${tcp.nick}: hello page`);
  });
});

Deno.test("chat: /who lists the users of every replica and the page", async () => {
  await withChat(async (rt, users) => {
    const [ada, bob] = await usersOnTwoReplicas(portOf(rt, "chat"));
    const web = await WebUser.connect(portOf(rt, "web"));
    users.push(ada, bob, web);
    await ada.rename("ada");
    await bob.rename("bob");
    await web.rename("cy");
    assert.equal(await ada.ask("/who", /^\* in #lobby:/), "* in #lobby: ada, bob, cy");
    await web.ask("/join web", /^\* you are in #web$/);
    assert.equal(await bob.ask("/who", /^\* in #lobby:/), "* in #lobby: ada, bob");
    assert.equal(await bob.ask("/rooms", /^\* rooms:/), "* rooms: #lobby (2), #web (1)");
    // A nick is one user's, across replicas.
    assert.match(await web.ask("/nick ADA", /^\* the nick/), /ADA is taken/);
  });
});

Deno.test("chat: an oversize line is refused, the connection stays usable and others are unaffected", async () => {
  await withChat(async (rt, users) => {
    const [ada, bob] = await usersOnTwoReplicas(portOf(rt, "chat"));
    const web = await WebUser.connect(portOf(rt, "web"));
    users.push(ada, bob, web);
    // 64 KiB without a line break, in pieces: refused once, never buffered whole.
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    for (let i = 0; i < 4; i++) await ada.write(chunk);
    await ada.write(new TextEncoder().encode("tail of the long line\n"));
    assert.match(await ada.next(/^\* line refused/), new RegExp(`at most ${MAX_LINE_BYTES}`));
    web.say("y".repeat(MAX_LINE_BYTES + 1));
    assert.match(await web.next(/^\* line refused/), /4097\+ bytes/);
    ada.say("still here");
    await bob.next(/: still here$/);
    web.say("me too");
    await ada.next(/: me too$/);
    assert.ok(!bob.lines.some((l) => l.includes("xxxx") || l.includes("tail of")));
    assert.ok(!bob.lines.some((l) => l.includes("yyyy")));
  });
});

Deno.test("chat: a flood from one connection is cut to its rate; the user is told", async () => {
  await withChat(async (rt, users) => {
    const [ada, bob] = await usersOnTwoReplicas(portOf(rt, "chat"));
    users.push(ada, bob);
    await ada.write(new TextEncoder().encode(
      Array.from({ length: 50 }, (_, i) => `spam ${i}\n`).join(""),
    ));
    await ada.next(/^\* slow down/);
    await bob.next(/: spam 9$/); // the burst (10) goes through
    ada.say("after the flood"); // dropped too: the bucket is still empty
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(bob.lines.filter((l) => l.includes(": spam ")).length <= 12);
  });
});

Deno.test("chat: a replica that stops takes its users out of /who; they are told and disconnected", async () => {
  await withChat(async (rt, users) => {
    const [one, two] = await usersOnTwoReplicas(portOf(rt, "chat"));
    users.push(one, two);
    await one.rename("one");
    await two.rename("two");
    // Scaling down stops the last replica (#1); whoever is on it goes.
    const [kept, gone] = one.instance.startsWith("chat#0.") ? [one, two] : [two, one];
    await rt.scale("chat", 1);
    await gone.next(/is stopping: connect again/);
    await gone.closedByServer();
    await kept.next(new RegExp(`^\\* ${gone.nick} left \\(server stopping\\) #lobby$`));
    await whoIs(kept, `* in #lobby: ${kept.nick}`);
    // Reconnecting lands on the replica left, and the nick is free again.
    const back = await TcpUser.connect(portOf(rt, "chat"));
    users.push(back);
    assert.equal(back.instance, kept.instance);
    await back.ask(`/nick ${gone.nick}`, new RegExp(`is now ${gone.nick}$`));
  });
});

Deno.test("chat: a rolling restart tells every user, who reconnect to the new replicas; /who has no ghost", async () => {
  await withChat(async (rt, users) => {
    const [one, two] = await usersOnTwoReplicas(portOf(rt, "chat"));
    users.push(one, two);
    await one.rename("one");
    await two.rename("two");
    await rt.restart("chat");
    for (const user of [one, two]) {
      await user.next(/is stopping: connect again/);
      await user.closedByServer();
    }
    const back = await TcpUser.connect(portOf(rt, "chat"));
    users.push(back);
    assert.match(back.instance, /^chat#\d+\.2$/); // a new incarnation
    await back.rename("one"); // the nick was given back when its replica stopped
    await whoIs(back, "* in #lobby: one");
  });
});

Deno.test("chat: a replica that crashes tells its users and their rooms, and is restarted", async () => {
  await withChat(async (rt, users) => {
    const [one, two] = await usersOnTwoReplicas(portOf(rt, "chat"));
    users.push(one, two);
    await one.rename("one");
    await two.rename("two");
    // Whichever replica the request reaches fails; its supervisor starts a fresh incarnation.
    await assert.rejects(rt.ref<typeof chat>("chat").request("crash"), /crashed on purpose/);
    await waitUntil(() => one.ended || two.ended, 8000, "the crashed replica's user to go");
    const [crashed, kept] = one.ended ? [one, two] : [two, one];
    // Told by the replica as it stopped or, if what it said then was lost with it, by presence
    // once its lease ran out.
    await kept.next(new RegExp(`^\\* ${crashed.nick} left (\\(server stopping\\) )?#lobby`));
    await whoIs(kept, `* in #lobby: ${kept.nick}`);
    await waitUntil(
      () =>
        rt.tree().containers.find((c) => c.name === "chat")!.instances
          .filter((i) => i.state === "running").length === 2,
      8000,
      "the crashed replica to be back",
    );
    // Its successor takes users again, and the crashed user's nick is free.
    const [a, b] = await usersOnTwoReplicas(portOf(rt, "chat"));
    users.push(a, b);
    await a.rename(crashed.nick);
  }, shortLease);
});

Deno.test("chat: a replica killed without a word loses its users from /who once its lease runs out", async () => {
  // Process replicas, so one can be SIGKILLed: no onStop, no goodbye, only silence.
  const rt = await startChat((t) => {
    shortLease(t);
    t.containers.chat.mode = "process";
  });
  const users: ChatUser[] = [];
  try {
    const [one, two] = await usersOnTwoReplicas(portOf(rt, "chat"));
    users.push(one, two);
    await one.rename("one");
    await two.rename("two");
    const victim = rt.tree().containers.find((c) => c.name === "chat")!.instances
      .find((i) => i.id === two.instance)!;
    Deno.kill(victim.pid!, "SIGKILL");
    await two.closedByServer();
    await one.next(/^\* two left #lobby \(connection lost\)$/, 5000);
    await whoIs(one, "* in #lobby: one");
  } finally {
    await Promise.all(users.map((u) => u.close()));
    await rt.shutdown();
  }
});

Deno.test("chat: shutdown tells every TCP and WebSocket client, then disconnects it", async () => {
  const rt = await startChat();
  const users: ChatUser[] = [];
  try {
    const tcp = await usersOnTwoReplicas(portOf(rt, "chat"));
    const web = await WebUser.connect(portOf(rt, "web"));
    users.push(...tcp, web);
    await rt.shutdown();
    for (const user of users) await user.closedByServer(5000);
    for (const user of users) {
      assert.ok(
        user.lines.some((l) => /is stopping: connect again/.test(l)),
        user.lines.join("\n"),
      );
    }
    assert.equal(web.closeCode, 1001); // "going away": the page reconnects
  } finally {
    await Promise.all(users.map((u) => u.close()));
    await rt.shutdown();
  }
});
