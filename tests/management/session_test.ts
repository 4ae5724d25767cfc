// The dashboard's sign-in: a session cookie and a key in exchange for the token, accepted together
// on every API route like the bearer token, changes only from the API's own origin, a rate limit
// on wrong tokens, sign-out. Everything through app.request() (no socket); each test starts its
// own runtime.
import assert from "node:assert/strict";
import { Runtime, type TopologyInput } from "../../mod.ts";
import { type ManagementApp, managementApp } from "../../management/app.ts";
import { csrfProblem, SessionTable } from "../../management/_session.ts";

const TOKEN = "session-token-0123456789abcdef";
const FIXTURES = new URL("../fixtures/cli/", import.meta.url);
const TOPOLOGY: TopologyInput = {
  name: "session-test",
  containers: { web: { module: "./containers/web.ts", mode: "inline" } },
};
const ORIGIN = "http://localhost";

async function withApp(fn: (app: ManagementApp, rt: Runtime) => Promise<void>): Promise<void> {
  const rt = await Runtime.start(TOPOLOGY, {
    logLevel: "info",
    logger: () => {},
    baseUrl: FIXTURES.href,
  });
  const closing = new AbortController();
  const app = managementApp(rt, TOKEN, { signal: closing.signal, heartbeat: 0 });
  try {
    await fn(app, rt);
  } finally {
    closing.abort();
    await rt.shutdown();
  }
}

async function signIn(app: ManagementApp, token = TOKEN): Promise<Response> {
  return await app.request("/session", {
    method: "POST",
    headers: { "content-type": "application/json", origin: ORIGIN },
    body: JSON.stringify({ token }),
  });
}

/** Signs in; the cookie to send back and the key the page would keep. */
async function session(app: ManagementApp): Promise<{ cookie: string; key: string }> {
  const res = await signIn(app);
  assert.equal(res.status, 200);
  const set = res.headers.get("set-cookie");
  assert.ok(set, "a Set-Cookie header");
  const { key } = await res.json();
  return { cookie: set.split(";")[0], key };
}

Deno.test("the page at / is served to anyone, with a strict CSP and no token in it", async () => {
  await withApp(async (app) => {
    const page = await app.request("/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /text\/html/);
    assert.match(page.headers.get("content-security-policy")!, /script-src 'self'/);
    assert.match(page.headers.get("content-security-policy")!, /frame-ancestors 'none'/);
    const html = await page.text();
    assert.ok(!html.includes(TOKEN));
    const script = await app.request("/dashboard/app.js");
    assert.match(script.headers.get("content-type")!, /javascript/);
    assert.ok(!(await script.text()).includes(TOKEN));
  });
});

Deno.test("sign-in sets an HttpOnly SameSite=Strict session cookie that, with its key, opens every API route", async () => {
  await withApp(async (app) => {
    const res = await signIn(app);
    assert.equal(res.status, 200);
    const set = res.headers.get("set-cookie")!;
    assert.match(
      set,
      /^kraken_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/,
    );
    assert.ok(!set.includes(TOKEN), "the cookie is not the token");
    const body = await res.json();
    assert.equal(body.signedIn, true);
    assert.match(body.key, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!set.includes(body.key), "the key is not in the cookie");
    const headers = { cookie: set.split(";")[0], "x-kraken-session": body.key };
    const tree = await app.request("/v1/tree", { headers });
    assert.equal(tree.status, 200);
    assert.equal((await tree.json()).name, "session-test");
    const who = await app.request("/session", { headers });
    assert.deepEqual(await who.json(), { signedIn: true });
    const forged = await app.request("/v1/tree", {
      headers: { cookie: "kraken_session=nope", "x-kraken-session": body.key },
    });
    assert.equal(forged.status, 401);
    assert.match((await forged.json()).error.message, /names no live session/);
  });
});

Deno.test("a session cookie without its key opens nothing (another server on the host sees the cookie)", async () => {
  await withApp(async (app) => {
    const { cookie, key } = await session(app);
    const bare = await app.request("/v1/tree", { headers: { cookie } });
    assert.equal(bare.status, 401);
    assert.match(
      (await bare.json()).error.message,
      /a session cookie must come with its key in the header x-kraken-session/,
    );
    const wrong = await app.request("/v1/containers/web/scale", {
      method: "POST",
      headers: { cookie, "x-kraken-session": `x${key.slice(1)}`, origin: ORIGIN },
      body: JSON.stringify({ replicas: 3 }),
    });
    assert.equal(wrong.status, 401);
    assert.match((await wrong.json()).error.message, /is not the key of this session/);
    const who = await app.request("/session", { headers: { cookie } });
    assert.deepEqual(await who.json(), { signedIn: false });
    const stream = await app.request("/v1/logs?follow=1", { headers: { cookie } });
    assert.equal(stream.status, 401);
    await stream.body?.cancel();
  });
});

Deno.test("over TLS the session cookie is Secure and __Host- prefixed, and only that name opens the API", async () => {
  await withApp(async (app) => {
    const res = await app.request("https://kraken.example/session", {
      method: "POST",
      headers: { origin: "https://kraken.example" },
      body: JSON.stringify({ token: TOKEN }),
    });
    assert.equal(res.status, 200);
    const set = res.headers.get("set-cookie")!;
    assert.match(
      set,
      /^__Host-kraken_session=[^;]+; Path=\/; .*; HttpOnly; SameSite=Strict; Secure$/,
    );
    const { key } = await res.json();
    const id = set.split(";")[0].split("=")[1];
    const tree = await app.request("https://kraken.example/v1/tree", {
      headers: { cookie: `__Host-kraken_session=${id}`, "x-kraken-session": key },
    });
    assert.equal(tree.status, 200);
    await tree.body?.cancel();
    // A cookie without the prefix, which any server on the host could set, is not a session here.
    const plain = await app.request("https://kraken.example/v1/tree", {
      headers: { cookie: `kraken_session=${id}`, "x-kraken-session": key },
    });
    assert.equal(plain.status, 401);
    await plain.body?.cancel();
  });
});

Deno.test("a session cookie another server on the host tossed before ours neither locks the page out nor changes whose session it is", async () => {
  await withApp(async (app) => {
    const alice = await session(app);
    const bob = await session(app);
    const aliceId = alice.cookie.split("=")[1];
    const bobId = bob.cookie.split("=")[1];
    // RFC 6265: a cookie with a longer path (`Path=/v1`) is sent first.
    for (const tossed of ["kraken_session=x", `kraken_session=${bobId}`]) {
      const headers = { cookie: `${tossed}; ${alice.cookie}`, "x-kraken-session": alice.key };
      const tree = await app.request("/v1/tree", { headers });
      assert.equal(tree.status, 200, `${tossed}: ${await tree.clone().text()}`);
      await tree.body?.cancel();
      const who = await app.request("/session", { headers });
      assert.deepEqual(await who.json(), { signedIn: true });
    }
    // Signing out ends the session whose key the page holds, not the tossed one.
    const out = await app.request("/session", {
      method: "DELETE",
      headers: {
        cookie: `kraken_session=${bobId}; kraken_session=${aliceId}`,
        "x-kraken-session": alice.key,
      },
    });
    await out.body?.cancel();
    const bobStill = await app.request("/v1/tree", {
      headers: { cookie: bob.cookie, "x-kraken-session": bob.key },
    });
    assert.equal(bobStill.status, 200, "bob's session lives on");
    await bobStill.body?.cancel();
    const aliceGone = await app.request("/v1/tree", {
      headers: { cookie: alice.cookie, "x-kraken-session": alice.key },
    });
    assert.equal(aliceGone.status, 401, "alice signed out");
    await aliceGone.body?.cancel();
  });
});

Deno.test("a cookie-signed change must come from the API's own origin", async () => {
  await withApp(async (app) => {
    const { cookie, key } = await session(app);
    const scale = (headers: Record<string, string>) =>
      app.request("/v1/containers/web/scale", {
        method: "POST",
        headers: { cookie, "x-kraken-session": key, ...headers },
        body: JSON.stringify({ replicas: 2 }),
      });
    const elsewhere = await scale({ origin: "https://evil.example" });
    assert.equal(elsewhere.status, 403);
    assert.match(
      (await elsewhere.json()).error.message,
      /comes from "https:\/\/evil.example"; expected the API's own origin http:\/\/localhost/,
    );
    const crossSite = await scale({ "sec-fetch-site": "cross-site" });
    assert.equal(crossSite.status, 403);
    await crossSite.body?.cancel();
    const page = await scale({ origin: ORIGIN, "sec-fetch-site": "same-origin" });
    assert.equal(page.status, 200);
    assert.equal((await page.json()).to, 2);
  });
});

Deno.test("a wrong token is refused with 401, and past five in a minute sign-in answers 429", async () => {
  await withApp(async (app) => {
    for (let i = 0; i < 5; i++) {
      const wrong = await signIn(app, "not-the-token");
      assert.equal(wrong.status, 401);
      assert.equal(wrong.headers.get("set-cookie"), null);
      assert.deepEqual((await wrong.json()).error, {
        type: "Unauthorized",
        message: "wrong token",
        key: "token",
      });
    }
    const limited = await signIn(app); // even the right one, until the window moves on
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get("retry-after")) > 0);
    assert.match((await limited.json()).error.message, /too many wrong tokens; try again in \d+ s/);
    // Bearer clients are not locked out.
    const tree = await app.request("/v1/tree", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(tree.status, 200);
    await tree.body?.cancel();
  });
});

Deno.test("sign-out ends the session on the server and clears the cookie", async () => {
  await withApp(async (app) => {
    const { cookie, key } = await session(app);
    const headers = { cookie, "x-kraken-session": key };
    const out = await app.request("/session", { method: "DELETE", headers });
    assert.equal(out.status, 200);
    assert.match(out.headers.get("set-cookie")!, /^kraken_session=; Path=\/; Max-Age=0; HttpOnly/);
    await out.body?.cancel();
    const after = await app.request("/v1/tree", { headers });
    assert.equal(after.status, 401);
    await after.body?.cancel();
  });
});

Deno.test("sessions expire, and the oldest is ended when the table is full", () => {
  let now = 1000;
  const sessions = new SessionTable({ ttl: 500, maxSessions: 2, now: () => now });
  const [a, b, c] = [sessions.create(), sessions.create(), sessions.create()];
  assert.deepEqual([a, b, c].map((s) => sessions.check(s.id, s.key)), ["none", "ok", "ok"]);
  assert.equal(sessions.check(b.id, c.key), "wrong-key");
  now = 1501;
  assert.equal(sessions.check(b.id, b.key), "none");
  assert.equal(sessions.check(undefined, b.key), "none");
});

Deno.test("csrfProblem lets reads through and refuses a change from another origin", () => {
  const url = "http://127.0.0.1:9090/v1/apply";
  assert.equal(csrfProblem(new Request(url)), null);
  assert.equal(csrfProblem(new Request(url, { method: "POST" })), null); // says nothing: the key decides
  assert.match(
    csrfProblem(new Request(url, { method: "POST", headers: { "sec-fetch-site": "same-site" } }))!,
    /a same-site page \(Sec-Fetch-Site\); expected same-origin/,
  );
});

Deno.test("the topology editor plans YAML without applying it, and applies it when asked", async () => {
  await withApp(async (app, rt) => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    const yaml = "name: session-test\ncontainers:\n  web: { module: ./containers/web.ts, " +
      "mode: inline, replicas: 2 }\n";
    const dry = await app.request("/v1/dashboard/apply?dry_run=1", {
      method: "POST",
      headers,
      body: JSON.stringify({ yaml }),
    });
    assert.equal(dry.status, 200);
    const planned = await dry.json();
    assert.equal(planned.applied, false);
    assert.match(planned.text, /web/);
    assert.equal(rt.tree().containers[0].replicas, 1);
    const bad = await app.request("/v1/dashboard/apply?dry_run=1", {
      method: "POST",
      headers,
      body: JSON.stringify({ yaml: "containers: [" }),
    });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /malformed YAML/);
    const applied = await app.request("/v1/dashboard/apply", {
      method: "POST",
      headers,
      body: JSON.stringify({ yaml }),
    });
    assert.equal((await applied.json()).applied, true);
    assert.equal(rt.tree().containers[0].replicas, 2);
  });
});

Deno.test("the live feed streams the history, then snapshots of the tree and metrics", async () => {
  await withApp(async (app) => {
    const res = await app.request("/v1/dashboard/stream", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const timer = setTimeout(() => reader.cancel(), 5000);
    try {
      while (!text.includes("event: snapshot")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
    } finally {
      clearTimeout(timer);
      await reader.cancel();
    }
    assert.match(text, /event: history\ndata: \{"series":\{\}\}/);
    const data = JSON.parse(text.split("event: snapshot\ndata: ")[1].split("\n")[0]);
    assert.equal(data.tree.containers[0].name, "web");
    assert.equal(data.metrics[0].container, "web");
  });
});
