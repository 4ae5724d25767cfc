// The dashboard's sign-in: a session cookie in exchange for the token, accepted on every API route
// like the bearer token, with a CSRF defence on changes, a rate limit on wrong tokens, sign-out.
// Everything through app.request() (no socket); each test starts its own runtime.
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
    headers: { "content-type": "application/json", "x-kraken-csrf": "1", origin: ORIGIN },
    body: JSON.stringify({ token }),
  });
}

function cookieOf(response: Response): string {
  const set = response.headers.get("set-cookie");
  assert.ok(set, "a Set-Cookie header");
  return set.split(";")[0];
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

Deno.test("sign-in sets an HttpOnly SameSite=Strict session cookie that opens every API route", async () => {
  await withApp(async (app) => {
    const res = await signIn(app);
    assert.equal(res.status, 200);
    const set = res.headers.get("set-cookie")!;
    assert.match(
      set,
      /^kraken_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/,
    );
    assert.ok(!set.includes(TOKEN), "the cookie is not the token");
    assert.deepEqual(await res.json(), { signedIn: true });
    const cookie = cookieOf(res);
    const tree = await app.request("/v1/tree", { headers: { cookie } });
    assert.equal(tree.status, 200);
    assert.equal((await tree.json()).name, "session-test");
    const who = await app.request("/session", { headers: { cookie } });
    assert.deepEqual(await who.json(), { signedIn: true });
    const forged = await app.request("/v1/tree", { headers: { cookie: "kraken_session=nope" } });
    assert.equal(forged.status, 401);
    await forged.body?.cancel();
  });
});

Deno.test("the session cookie is Secure when the API is reached over TLS", async () => {
  await withApp(async (app) => {
    const res = await app.request("https://kraken.example/session", {
      method: "POST",
      headers: { "x-kraken-csrf": "1", origin: "https://kraken.example" },
      body: JSON.stringify({ token: TOKEN }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("set-cookie")!, /; HttpOnly; SameSite=Strict; Secure$/);
    await res.body?.cancel();
  });
});

Deno.test("a cookie-signed change needs the CSRF header and the API's own origin", async () => {
  await withApp(async (app) => {
    const cookie = cookieOf(await signIn(app));
    const scale = (headers: Record<string, string>) =>
      app.request("/v1/containers/web/scale", {
        method: "POST",
        headers: { cookie, "content-type": "application/json", ...headers },
        body: JSON.stringify({ replicas: 2 }),
      });
    const bare = await scale({});
    assert.equal(bare.status, 403);
    assert.match((await bare.json()).error.message, /must send the header x-kraken-csrf/);
    const elsewhere = await scale({ "x-kraken-csrf": "1", origin: "https://evil.example" });
    assert.equal(elsewhere.status, 403);
    assert.match(
      (await elsewhere.json()).error.message,
      /comes from "https:\/\/evil.example"; expected the API's own origin http:\/\/localhost/,
    );
    const crossSite = await scale({ "x-kraken-csrf": "1", "sec-fetch-site": "cross-site" });
    assert.equal(crossSite.status, 403);
    await crossSite.body?.cancel();
    const page = await scale({
      "x-kraken-csrf": "1",
      origin: ORIGIN,
      "sec-fetch-site": "same-origin",
    });
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
    const cookie = cookieOf(await signIn(app));
    const out = await app.request("/session", {
      method: "DELETE",
      headers: { cookie, "x-kraken-csrf": "1", origin: ORIGIN },
    });
    assert.equal(out.status, 200);
    assert.match(out.headers.get("set-cookie")!, /^kraken_session=; Path=\/; Max-Age=0; HttpOnly/);
    await out.body?.cancel();
    const after = await app.request("/v1/tree", { headers: { cookie } });
    assert.equal(after.status, 401);
    await after.body?.cancel();
  });
});

Deno.test("sessions expire, and the oldest is ended when the table is full", () => {
  let now = 1000;
  const sessions = new SessionTable({ ttl: 500, maxSessions: 2, now: () => now });
  const a = sessions.create().id;
  const b = sessions.create().id;
  const c = sessions.create().id;
  assert.deepEqual([a, b, c].map((id) => sessions.valid(id)), [false, true, true]);
  now = 1501;
  assert.equal(sessions.valid(b), false);
  assert.equal(sessions.valid(undefined), false);
});

Deno.test("csrfProblem lets reads through and names what a change lacks", () => {
  const url = "http://127.0.0.1:9090/v1/apply";
  assert.equal(csrfProblem(new Request(url)), null);
  assert.match(csrfProblem(new Request(url, { method: "POST" }))!, /x-kraken-csrf/);
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
