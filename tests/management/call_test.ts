// POST /v1/containers/:name/call sends a request (or a send) to a container of a real runtime
// (worker replicas) and answers its reply as JSON — bytes as {"$bytes": base64}, dates as ISO
// strings — or the reply's typed error with a status of its own; bad input is a 400 naming the
// field, an oversize body a 413, a bad token a 401 that sends nothing.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { managementApp } from "../../management/app.ts";
import { signRequest } from "../../management/signed.ts";

const TOKEN = "call-token";
const CALLEE = new URL("../fixtures/callee.ts", import.meta.url).href;

Deno.test("the call route answers replies and typed errors of a real runtime's containers", async (t) => {
  const rt = await Runtime.start({
    name: "calls",
    containers: {
      callee: { module: CALLEE, mode: "worker", replicas: 2, balance: "key_hash" },
    },
  }, { logLevel: "silent" });
  const app = managementApp(rt, TOKEN);
  const call = async (name: string, body: unknown, token = TOKEN) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const response = await app.request(`/v1/containers/${name}/call`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: text,
    });
    return { status: response.status, body: await response.json() };
  };
  try {
    await t.step(
      "a request's reply comes back as JSON: bytes as {$bytes}, dates as ISO strings",
      async () => {
        assert.deepEqual(await call("callee", { topic: "add", body: { a: 2, b: 3 } }), {
          status: 200,
          body: { ok: true, reply: 5 },
        });
        assert.deepEqual((await call("callee", { topic: "kinds" })).body.reply, {
          at: "2026-01-02T03:04:05.000Z",
          raw: { $bytes: "aGk=" },
          list: [1, "two", null, true],
        });
        // {"$bytes": …} in the body arrives as a Uint8Array (echoed back, written the same way).
        const echoed = await call("callee", {
          topic: "echo",
          body: { raw: { $bytes: "AAEC/w==" } },
        });
        assert.deepEqual(echoed.body.reply, { raw: { $bytes: "AAEC/w==" } });
        // No body is null.
        assert.deepEqual((await call("callee", { topic: "echo" })).body.reply, null);
      },
    );

    await t.step("requests with equal keys reach the same replica (key_hash)", async () => {
      const first = await call("callee", { topic: "whoami", key: "user-7" });
      for (let i = 0; i < 4; i++) {
        assert.equal(
          (await call("callee", { topic: "whoami", key: "user-7" })).body.reply,
          first.body.reply,
        );
      }
    });

    await t.step("a signed request (as the CLI sends) is answered like a bearer one", async () => {
      const bytes = new TextEncoder().encode(
        JSON.stringify({ topic: "add", body: { a: 1, b: 1 } }),
      );
      const path = "/v1/containers/callee/call";
      const response = await app.request(path, {
        method: "POST",
        headers: { authorization: signRequest(TOKEN, { method: "POST", path, body: bytes }) },
        body: bytes,
      });
      assert.deepEqual(await response.json(), { ok: true, reply: 2 });
    });

    await t.step("a send answers 202 {ok:true} and the handler runs once", async () => {
      const before = (await call("callee", { topic: "notes", key: "k" })).body.reply;
      assert.deepEqual(await call("callee", { topic: "note", key: "k", send: true }), {
        status: 202,
        body: { ok: true },
      });
      // A send has no reply: ask the same replica (same key) until it counted it.
      let after = before;
      for (let i = 0; i < 100 && after === before; i++) {
        after = (await call("callee", { topic: "notes", key: "k" })).body.reply;
      }
      assert.equal(after, before + 1);
    });

    await t.step("a bad or missing token is 401 and sends nothing", async () => {
      const before = (await call("callee", { topic: "notes", key: "k" })).body.reply;
      const wrong = await call("callee", { topic: "note", key: "k", send: true }, "nope");
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error.type, "Unauthorized");
      const none = await app.request("/v1/containers/callee/call", {
        method: "POST",
        body: JSON.stringify({ topic: "note", key: "k", send: true }),
      });
      assert.equal(none.status, 401);
      await none.body?.cancel();
      assert.equal((await call("callee", { topic: "notes", key: "k" })).body.reply, before);
    });

    await t.step("an unknown container is 503 UnavailableError naming the known ones", async () => {
      const { status, body } = await call("nobody", { topic: "echo" });
      assert.equal(status, 503);
      assert.equal(body.error.type, "UnavailableError");
      assert.equal(body.error.message, 'no container named "nobody" (known: callee)');
    });

    await t.step(
      "an unknown topic is 404 UnknownTopicError listing the topics handled",
      async () => {
        const { status, body } = await call("callee", { topic: "ad" });
        assert.equal(status, 404);
        assert.equal(body.error.type, "UnknownTopicError");
        assert.equal(body.error.key, "topic");
        assert.match(
          body.error.message,
          /has no handler for topic "ad" \(it handles: echo, add, kinds, whoami, fail, slow, note, notes\)/,
        );
      },
    );

    await t.step("no reply in time is 504 TimeoutError naming the wait", async () => {
      const started = Date.now();
      const { status, body } = await call("callee", {
        topic: "slow",
        body: { ms: 700 },
        timeout: "150ms",
        retries: 1,
      });
      assert.equal(status, 504);
      assert.equal(body.error.type, "TimeoutError");
      assert.match(
        body.error.message,
        /request "slow" to container "callee" got no reply within 150 ms/,
      );
      assert.ok(Date.now() - started < 650, "gave up after 2 × 150 ms, not after the handler");
    });

    await t.step(
      "a call's overall deadline, timeout × (retries + 1), ends the server's wait whatever the client does",
      async () => {
        // The client gives up at once; the server still answers (to no one) at its deadline,
        // 3 × 100 ms, and not when the 2 s handler would have replied.
        const gaveUp = new AbortController();
        const started = Date.now();
        const answered = Promise.resolve(app.request("/v1/containers/callee/call", {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ topic: "slow", body: { ms: 2000 }, timeout: 100, retries: 2 }),
          signal: gaveUp.signal,
        }));
        gaveUp.abort();
        const response = await answered;
        const took = Date.now() - started;
        assert.equal(response.status, 504);
        assert.match((await response.json()).error.message, /no reply within 100 ms/);
        assert.ok(took >= 290 && took < 1000, `the server's wait ended after ${took} ms`);
      },
    );

    await t.step(
      "a handler that throws is 502 RemoteError with its name, message and stack",
      async () => {
        const { status, body } = await call("callee", { topic: "fail", body: { message: "boom" } });
        assert.equal(status, 502);
        assert.equal(body.error.type, "RemoteError");
        assert.equal(body.error.message, 'container "callee" threw RangeError: boom');
        assert.equal(body.error.remote.name, "RangeError");
        assert.equal(body.error.remote.container, "callee");
        assert.match(body.error.remote.stack, /RangeError: boom\n\s+at /);
      },
    );

    await t.step("bad fields are 400 naming the field and what was expected", async () => {
      const cases: [unknown, string, RegExp][] = [
        [{ body: 1 }, "topic", /^topic must be a non-empty string, got nothing$/],
        [
          { topic: "add", timout: 5 },
          "timout",
          /unknown field "timout" \(did you mean "timeout"\?\)/,
        ],
        [
          { topic: "add", timeout: "soon" },
          "timeout",
          /timeout must be a whole number of ms from 1 to 300000 \(5 minutes\) or a duration/,
        ],
        [{ topic: "add", timeout: 0 }, "timeout", /got 0$/],
        [
          { topic: "add", retries: -1 },
          "retries",
          /retries must be a whole number from 0 to 100, got -1/,
        ],
        [{ topic: "add", timeout: "6m" }, "timeout", /from 1 to 300000 .*, got "6m"$/],
        // A fractional timeout would make the product bound meaningless (1e-300 × 1e300 = 1).
        [{ topic: "add", timeout: 1e-300, retries: 1e300 }, "timeout", /got 1e-300$/],
        [{ topic: "add", timeout: 0.5 }, "timeout", /got 0\.5$/],
        [{ topic: "add", timeout: "0.5ms" }, "timeout", /got "0\.5ms"$/],
        [{ topic: "add", timeout: 300_001 }, "timeout", /got 300001$/],
        [{ topic: "add", retries: 1e300 }, "retries", /from 0 to 100, got 1e\+300$/],
        [{ topic: "add", retries: 101 }, "retries", /from 0 to 100, got 101$/],
        [{ topic: "add", retries: 1.5 }, "retries", /got 1\.5$/],
        [{ topic: "add", timeout: 2999, retries: 100 }, "timeout", /got 2999 ms × 101/],
        [{ topic: "add", timeout: "1m", retries: 5 }, "timeout", /got 60000 ms × 6/],
        [{ topic: "add", send: "yes" }, "send", /send must be true or false/],
        [
          { topic: "add", send: true, timeout: 5 },
          "timeout",
          /applies to a request, not to a send/,
        ],
        [{ topic: "add", key: 7 }, "key", /key must be a string, got 7/],
        [
          { topic: "echo", body: { $bytes: "not base64!" } },
          "body",
          /body\.\$bytes must be base64/,
        ],
      ];
      for (const [input, key, message] of cases) {
        const { status, body } = await call("callee", input);
        assert.equal(status, 400, JSON.stringify(input));
        assert.equal(body.error.type, "BadRequest");
        assert.equal(body.error.key, key);
        assert.match(body.error.message, message);
      }
      let deep: unknown = 1;
      for (let i = 0; i < 70; i++) deep = [deep];
      const nested = await call("callee", { topic: "echo", body: deep });
      assert.equal(nested.status, 400);
      assert.match(nested.body.error.message, /nested deeper than 64 levels/);
    });

    await t.step("a body that is not JSON is 400 BadJson; one over 1 MiB is 413", async () => {
      const bad = await call("callee", '{"topic": "echo",');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.type, "BadJson");
      const big = await call("callee", { topic: "echo", body: "x".repeat(1 << 20) });
      assert.equal(big.status, 413);
      assert.equal(big.body.error.type, "PayloadTooLarge");
    });
  } finally {
    await rt.shutdown();
  }
});

Deno.test("a call to a runtime shutting down is 503 Unavailable", async () => {
  const rt = await Runtime.start({
    containers: { callee: { module: CALLEE, mode: "inline" } },
  }, { logLevel: "silent" });
  const app = managementApp(rt, TOKEN);
  const stopping = rt.shutdown();
  const response = await app.request("/v1/containers/callee/call", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ topic: "echo", body: 1 }),
  });
  assert.equal(response.status, 503);
  assert.equal((await response.json()).error.type, "Unavailable");
  await stopping;
});
