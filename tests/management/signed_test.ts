// The CLI never sends the management token: it signs each request. Whoever answers at the
// management address in the runtime's place (a local user who took the port while the runtime was
// down) learns a signature good for that one request, once, within a minute — not the token.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { managementApp } from "../../management/app.ts";
import { signedChecker, signRequest } from "../../management/signed.ts";
import { main } from "../../cli/main.ts";

const TOKEN = "signed-test-token-0123456789";
const FIXTURES = new URL("../fixtures/cli/", import.meta.url);

Deno.test("a port squatter sees no token from the CLI, and what it sees opens nothing else", async () => {
  const captured: string[] = [];
  const squatter = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    captured.push(req.headers.get("authorization") ?? "");
    return new Response("{}", { status: 401 });
  });
  const rt = await Runtime.start({
    name: "signed",
    containers: { web: { module: "./containers/web.ts", mode: "inline" } },
  }, { logLevel: "silent", baseUrl: FIXTURES.href });
  const closing = new AbortController();
  const app = managementApp(rt, TOKEN, { signal: closing.signal, heartbeat: 0 });
  const quiet = { log: console.log, error: console.error };
  console.log = console.error = () => {};
  try {
    const url = `http://127.0.0.1:${squatter.addr.port}/`;
    await main(["status", "--json", "--url", url, "--token", TOKEN]);
    await main(["scale", "web", "3", "--json", "--url", url, "--token", TOKEN]);
    console.log = quiet.log;
    console.error = quiet.error;
    assert.equal(captured.length, 2);
    for (const header of captured) {
      assert.ok(!header.includes(TOKEN), "the token never travels");
      assert.match(header, /^Kraken-Signed t=\d+,n=[0-9a-f]+,s=[0-9a-f]{64}$/);
    }
    // The scale it captured cannot be turned into another request...
    const scale = captured[1];
    const other = await app.request("/v1/containers/web/scale", {
      method: "POST",
      headers: { authorization: scale, "content-type": "application/json" },
      body: JSON.stringify({ replicas: 9 }),
    });
    assert.equal(other.status, 401, "another body");
    const tree = await app.request("/v1/tree", { headers: { authorization: scale } });
    assert.equal(tree.status, 401, "another route");
    // ...and a real signature works once.
    const signed = signRequest(TOKEN, { method: "GET", path: "/v1/tree" });
    assert.equal(
      (await app.request("/v1/tree", { headers: { authorization: signed } })).status,
      200,
    );
    const again = await app.request("/v1/tree", { headers: { authorization: signed } });
    assert.equal(again.status, 401);
    assert.match((await again.json()).error.message, /used before/);
  } finally {
    console.log = quiet.log;
    console.error = quiet.error;
    closing.abort();
    await rt.shutdown();
    await squatter.shutdown();
  }
});

Deno.test("a signature is refused outside a minute of the runtime's clock, and with a wrong token", () => {
  let now = 1_000_000;
  const check = signedChecker(TOKEN, () => now);
  const request = { method: "GET", path: "/v1/tree" };
  const header = signRequest(TOKEN, request, { now });
  now += 60_001;
  assert.equal(check(header, request), "stale");
  now -= 60_001;
  assert.equal(check(signRequest("other-token", request, { now }), request), "wrong");
  assert.equal(check(header, request), "ok");
  assert.equal(check(header, request), "replayed");
});
