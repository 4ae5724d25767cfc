// The mode conformance suite: one behaviour, three modes. Every test below runs against inline,
// worker and process containers built from the same module (tests/fixtures/echo.ts).
import assert from "node:assert/strict";
import {
  RemoteError,
  SerializationError,
  TimeoutError,
  UnavailableError,
  UnknownTopicError,
} from "../../mod.ts";
import type echo from "../fixtures/echo.ts";
import { MODES, nextEvent, withRuntime } from "../_helpers.ts";

type Echo = typeof echo;

for (const mode of MODES) {
  const one = { containers: { echo: { module: "./echo.ts", mode, config: { colour: "blue" } } } };

  Deno.test(`[${mode}] a request gets the handler's reply, with msgpack value semantics`, async () => {
    await withRuntime(one, async (rt) => {
      const ref = rt.ref<Echo>("echo");
      const body = {
        text: "héllo",
        n: -3.5,
        big: 2 ** 40,
        list: [1, undefined, null],
        gone: undefined,
        when: new Date(1_700_000_000_123),
        bytes: new Uint8Array([1, 2, 3]),
        nested: { deep: { deeper: [true, false] } },
      };
      const reply = await ref.request("echo", body);
      assert.deepEqual(reply, {
        text: "héllo",
        n: -3.5,
        big: 2 ** 40,
        list: [1, null, null],
        when: new Date(1_700_000_000_123),
        bytes: new Uint8Array([1, 2, 3]),
        nested: { deep: { deeper: [true, false] } },
      });
      assert.equal(await ref.request("echo", undefined), undefined);
    });
  });

  Deno.test(`[${mode}] ctx carries name, instance and config`, async () => {
    await withRuntime(one, async (rt) => {
      const who = await rt.ref<Echo>("echo").request("whoami");
      assert.deepEqual(who, { name: "echo", instance: "echo#0.1", config: { colour: "blue" } });
    });
  });

  Deno.test(`[${mode}] state lives in the factory and persists between requests`, async () => {
    await withRuntime(one, async (rt) => {
      const ref = rt.ref<Echo>("echo");
      assert.equal(await ref.request("count"), 1);
      assert.equal(await ref.request("count"), 2);
      ref.send("count");
      assert.equal(await ref.request("count"), 4);
    });
  });

  Deno.test(`[${mode}] round_robin spreads requests over replicas; key_hash keeps a key on one`, async () => {
    await withRuntime({
      containers: {
        rr: { module: "./echo.ts", mode, replicas: 3 },
        kh: { module: "./echo.ts", mode, replicas: 3, balance: "key_hash" },
      },
    }, async (rt) => {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add((await rt.ref<Echo>("rr").request("whoami")).instance);
      assert.deepEqual([...seen].sort(), ["rr#0.1", "rr#1.1", "rr#2.1"]);
      const keyed = new Set<string>();
      for (let i = 0; i < 6; i++) {
        keyed.add(
          (await rt.ref<Echo>("kh").request("whoami", undefined, { key: "user-42" })).instance,
        );
      }
      assert.equal(keyed.size, 1);
    });
  });

  Deno.test(`[${mode}] containers reach each other by name`, async () => {
    await withRuntime({
      containers: {
        a: { module: "./echo.ts", mode },
        b: { module: "./echo.ts", mode, config: { role: "b" } },
      },
    }, async (rt) => {
      const reply = await rt.ref<Echo>("a").request("ask", { to: "b", topic: "whoami" });
      assert.deepEqual(reply, { name: "b", instance: "b#0.1", config: { role: "b" } });
    });
  });

  Deno.test(`[${mode}] traffic between two containers is relayed by the host only for processes`, async () => {
    await withRuntime({
      containers: { a: { module: "./echo.ts", mode }, b: { module: "./echo.ts", mode } },
    }, async (rt) => {
      for (let i = 0; i < 10; i++) {
        await rt.ref<Echo>("a").request("ask", { to: "b", topic: "count" });
      }
      // A process's link is to the host alone. Two workers get a direct MessageChannel once the
      // host relayed something between them: the first request (and its reply) alone cross it.
      if (mode === "process") assert.equal(rt.tree().relayed, 20);
      else assert.ok(rt.tree().relayed <= 2, `relayed ${rt.tree().relayed}`);
    });
  });

  Deno.test(`[${mode}] publish reaches subscribers in containers and on the host`, async () => {
    await withRuntime({
      containers: { a: { module: "./echo.ts", mode }, b: { module: "./echo.ts", mode } },
    }, async (rt) => {
      const got: unknown[] = [];
      const off = rt.subscribe("news", (body) => got.push(body));
      rt.publish("news", { n: 1 });
      await rt.ref<Echo>("a").request("tell", { topic: "news", body: { n: 2 } });
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(got, [{ n: 1 }, { n: 2 }]);
      assert.deepEqual(await rt.ref<Echo>("b").request("seen"), [{ n: 1 }, { n: 2 }]);
      off();
    });
  });

  Deno.test(`[${mode}] a thrown handler error comes back as RemoteError and the container restarts`, async () => {
    await withRuntime(one, async (rt) => {
      const ref = rt.ref<Echo>("echo");
      await ref.request("count");
      const restarted = nextEvent(rt, "restart");
      const exited = nextEvent(rt, "exit");
      const error = await ref.request("fail", { message: "boom" }).catch((e) => e);
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, "RangeError");
      assert.match(error.message, /RangeError: boom/);
      assert.match(error.remoteStack, /echo\.ts/);
      const exit = await exited;
      assert.equal(exit.reason.kind, "error");
      assert.equal(exit.instance, "echo#0.1");
      assert.equal((await restarted).instance, "echo#0.2");
      assert.equal(await ref.request("count"), 1, "a restart calls the factory again: fresh state");
      const tree = rt.tree().containers[0];
      assert.equal(tree.restarts, 1);
      assert.equal(tree.instances[0].lastExit?.kind, "error");
    });
  });

  Deno.test(`[${mode}] an unhandled rejection fails the container, the host lives on`, async () => {
    await withRuntime(one, async (rt) => {
      const exited = nextEvent(rt, "exit");
      assert.equal(await rt.ref<Echo>("echo").request("reject"), "ok");
      const exit = await exited;
      assert.equal(exit.reason.kind, "error");
      assert.match(exit.reason.message, /unhandled in container/);
      await nextEvent(rt, "start");
      assert.equal(await rt.ref<Echo>("echo").request("count"), 1);
    });
  });

  Deno.test(`[${mode}] an unknown topic is an UnknownTopicError and does not fail the container`, async () => {
    await withRuntime(one, async (rt) => {
      const ref = rt.ref("echo");
      const error = await ref.request("nope").catch((e) => e);
      assert.ok(error instanceof UnknownTopicError);
      assert.match(error.message, /no handler for topic "nope".*echo, count/);
      assert.equal(rt.tree().containers[0].restarts, 0);
    });
  });

  Deno.test(`[${mode}] a body that cannot be serialised is refused at the caller`, async () => {
    await withRuntime(one, async (rt) => {
      const ref = rt.ref("echo");
      const error = await ref.request("echo", { ok: 1, bad: [1, () => 2] }).catch((e) => e);
      assert.ok(error instanceof SerializationError);
      assert.equal(error.path, "body.bad[1]");
      assert.throws(() => ref.send("echo", new Map()), SerializationError);
      assert.ok(await ref.request("echo", { fine: true }));
    });
  });

  Deno.test(`[${mode}] a reply that cannot be serialised fails the handler`, async () => {
    await withRuntime(one, async (rt) => {
      const error = await rt.ref<Echo>("echo").request("badReply").catch((e) => e);
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, "SerializationError");
    });
  });

  Deno.test(`[${mode}] a request times out; its late reply is dropped, not given to the next`, async () => {
    await withRuntime(one, async (rt) => {
      const ref = rt.ref<Echo>("echo");
      const error = await ref.request("slow", { ms: 150 }, { timeout: 40 }).catch((e) => e);
      assert.ok(error instanceof TimeoutError);
      assert.equal(error.timeout, 40);
      // The late reply (150) arrives while this request waits; it must not be taken for this one.
      assert.equal(await ref.request("slow", { ms: 200 }, { timeout: 1000 }), 200);
    });
  });

  Deno.test(`[${mode}] retries reuse the request id: the handler runs once`, async () => {
    await withRuntime(one, async (rt) => {
      const ref = rt.ref<Echo>("echo");
      const reply = await ref.request("slowIncrement", { ms: 120 }, { timeout: 50, retries: 4 });
      assert.equal(reply, 1);
      assert.equal(await ref.request("count"), 2, "the handler ran once despite the retries");
    });
  });

  Deno.test(`[${mode}] an unknown container is UnavailableError`, async () => {
    await withRuntime(one, async (rt) => {
      const error = await rt.ref("ghost").request("echo").catch((e) => e);
      assert.ok(error instanceof UnavailableError);
      assert.match(error.message, /no container named "ghost".*echo/);
      assert.throws(() => rt.ref("ghost").send("echo"), UnavailableError);
    });
  });

  Deno.test(`[${mode}] shutdown runs onStop hooks in reverse start order`, async () => {
    const lines: string[] = [];
    await withRuntime(
      {
        containers: { first: { module: "./echo.ts", mode }, second: { module: "./echo.ts", mode } },
      },
      async () => {},
      {
        logLevel: "info",
        logger: (entry) => {
          if (entry.message.startsWith("stopping")) lines.push(entry.message);
        },
      },
    );
    assert.deepEqual(lines, ["stopping second#0.1", "stopping first#0.1"]);
  });

  Deno.test(`[${mode}] a hanging onStop is cut off after shutdown: and the instance is killed`, async () => {
    const started = performance.now();
    await withRuntime({
      containers: {
        echo: { module: "./echo.ts", mode, shutdown: "200ms", config: { hangOnStop: true } },
      },
    }, async () => {});
    const took = performance.now() - started;
    assert.ok(took < 3000, `shutdown took ${took} ms`);
  });
}
