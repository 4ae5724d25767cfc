// docs/dashboard.md says exactly what `POST /session` takes and answers: its curl example, the
// wrong-token answer (and the page's own words for it) and the missing-token answer are checked
// against a real management app, word for word.
import assert from "node:assert/strict";
import { Runtime, type TopologyInput } from "../../mod.ts";
import { managementApp } from "../../management/app.ts";

const DOC = await Deno.readTextFile(new URL("../../docs/dashboard.md", import.meta.url));
const TOKEN = "session-doc-token-0123456789abcdef";
const TOPOLOGY: TopologyInput = {
  name: "session-doc",
  containers: { web: { module: "./containers/web.ts", mode: "inline" } },
};

/** The one match of `pattern` in the doc, or a failure naming what is missing. */
function documented(pattern: RegExp, what: string): RegExpMatchArray {
  const match = DOC.match(pattern);
  assert.ok(match, `docs/dashboard.md gives ${what}`);
  return match;
}

Deno.test("docs/dashboard.md gives POST /session's exact body and its exact answers: signed in, wrong token, no token", async () => {
  const rt = await Runtime.start(TOPOLOGY, {
    logLevel: "info",
    logger: () => {},
    baseUrl: new URL("../fixtures/cli/", import.meta.url).href,
  });
  const closing = new AbortController();
  const app = managementApp(rt, TOKEN, { signal: closing.signal, heartbeat: 0 });
  const post = (body: string) =>
    app.request("/session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
  try {
    // The curl example: its -d body with the token in, its status, cookie and body.
    const [, template] = documented(/-d "(\{.*\$KRAKEN_TOKEN.*\})"/, "the curl body");
    const body = template.replaceAll('\\"', '"').replace("$KRAKEN_TOKEN", TOKEN);
    const signedIn = await post(body);
    const [, status] = documented(/# HTTP\/1\.1 (\d+) /, "the signed-in status");
    assert.equal(signedIn.status, Number(status));
    const [, cookie] = documented(/# set-cookie: (.*)/, "the cookie");
    const wildcard = (text: string) =>
      new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replaceAll("…", '[^;"]+')}$`);
    assert.match(signedIn.headers.get("set-cookie")!, wildcard(cookie));
    const [, answer] = documented(/# (\{"signedIn".*\})/, "the signed-in body");
    assert.match(JSON.stringify(await signedIn.json()), wildcard(answer));

    const [, wrongStatus, wrongBody] = documented(
      /A wrong token answers `(\d+)` with\s+`(\{.*?\})`/,
      "the wrong-token answer",
    );
    const wrong = await post(JSON.stringify({ token: "not-the-token" }));
    assert.equal(wrong.status, Number(wrongStatus));
    assert.deepEqual(await wrong.json(), JSON.parse(wrongBody));
    assert.equal(wrong.headers.get("set-cookie"), null);
    // What the page shows for it is the page's own text, in its script.
    const [, shown] = documented(/the page\s+shows it as "(.*?)"/, "what the page shows");
    const script = await (await app.request("/dashboard/app.js")).text();
    assert.ok(script.includes(JSON.stringify(shown)), `the page's script says ${shown}`);

    const [, emptyStatus, emptyMessage] = documented(
      /A body without a token answers `(\d+)`:\s+`(.*?)`\./,
      "the missing-token answer",
    );
    const empty = await post("{}");
    assert.equal(empty.status, Number(emptyStatus));
    assert.equal((await empty.json()).error.message, emptyMessage);
  } finally {
    closing.abort();
    await rt.shutdown();
  }
});
