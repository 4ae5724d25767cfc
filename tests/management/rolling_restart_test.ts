// A restart asked of the management API rolls one replica at a time (a new instance runs before
// an old one stops), so a steady stream of requests loses none; `rolling: false` restarts every
// replica at once. Real workers and processes. (A requested stop is no `exit` event, so the order
// is read off the tree, sampled while the restart runs.)
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { type ManagementApp, managementApp } from "../../management/app.ts";
import { FIXTURES, waitUntil, within } from "../_helpers.ts";

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function withApi(
  mode: "worker" | "process",
  fn: (app: ManagementApp, rt: Runtime) => Promise<void>,
): Promise<void> {
  const rt = await Runtime.start(
    { containers: { api: { module: "./member.ts", mode, replicas: 3 } } },
    { logLevel: "silent", baseUrl: FIXTURES.href },
  );
  const closing = new AbortController();
  const app = managementApp(rt, TOKEN, { signal: closing.signal, heartbeat: 0 });
  try {
    await fn(app, rt);
  } finally {
    closing.abort();
    await rt.shutdown();
  }
}

/**
 * Samples `api`'s instances in the tree (every millisecond or so) until stopped: each distinct
 * picture, as `id:state` lists.
 */
function sampleTree(rt: Runtime): { pictures: string[][]; stop: () => Promise<void> } {
  const pictures: string[][] = [];
  let running = true;
  const sampling = (async () => {
    while (running) {
      const picture = rt.tree().containers[0].instances.map((i) => `${i.id}:${i.state}`);
      if (pictures.at(-1)?.join() !== picture.join()) pictures.push(picture);
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  return {
    pictures,
    stop: async () => {
      running = false;
      await within(sampling, 5000, "the tree sampler to end");
    },
  };
}

const runningIn = (picture: string[]) => picture.filter((p) => p.endsWith(":running")).length;

/** Four requesters asking `whoami` without retries until stopped; counts answers and failures. */
function requestLoop(rt: Runtime) {
  let running = true;
  const failures: string[] = [];
  const answeredBy = new Set<string>();
  const order: string[] = [];
  let answered = 0;
  const loops = Array.from({ length: 4 }, async () => {
    while (running) {
      try {
        const who = await rt.ref("api").request("whoami", null, {
          retries: 0,
          timeout: 5000,
        }) as string;
        answeredBy.add(who);
        order.push(who);
        answered++;
      } catch (error) {
        failures.push(String(error));
        // A refusal can come at once: yield, or this loop starves every timer.
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  });
  return {
    failures,
    answeredBy,
    order,
    answered: () => answered,
    stop: async () => {
      running = false;
      await within(Promise.all(loops), 10_000, "the request loops to end");
    },
  };
}

for (const mode of ["worker", "process"] as const) {
  Deno.test(`POST restart of a ${mode} container with 3 replicas is rolling: each new instance runs before its predecessor stops, the old ones serve until their turn, no request is lost, every incarnation rises`, async () => {
    await withApi(mode, async (app, rt) => {
      const before = rt.tree().containers[0].instances.map((i) => i.incarnation);
      assert.deepEqual(before, [1, 1, 1]);
      const loop = requestLoop(rt);
      let tree: ReturnType<typeof sampleTree> | undefined;
      try {
        // Requests flow before the restart is asked.
        await waitUntil(() => loop.answered() >= 20, 5000, "requests to be answered");
        tree = sampleTree(rt);
        const res = await app.request("/v1/containers/api/restart", {
          method: "POST",
          headers: AUTH,
        });
        assert.equal(res.status, 200, await res.clone().text());
        await tree.stop();
        const { container } = await res.json();
        const at = loop.answered();
        await waitUntil(() => loop.answered() >= at + 20, 5000, "answers after the restart");
        await loop.stop();
        assert.deepEqual(loop.failures, [], "no request failed during the rolling restart");
        assert.equal(container.running, 3);
        assert.equal(container.restarts, 3, "a restart of each replica");
        assert.deepEqual(
          container.instances.map((i: { id: string; state: string }) => [i.id, i.state]),
          [["api#0.2", "running"], ["api#1.2", "running"], ["api#2.2", "running"]],
          "every instance's incarnation rose",
        );
        assert.ok(loop.answeredBy.has("api#2.2"), "the new instances answer");
        // The old replicas not yet replaced keep taking requests once the first new one runs (a
        // restart keeps the container's capacity): more answers than the 4 requests in flight.
        const firstNew = loop.order.indexOf("api#0.2");
        const oldAfter = loop.order.slice(firstNew).filter((w) => w === "api#2.1").length;
        assert.ok(oldAfter > 8, `api#2.1 answered ${oldAfter} requests after api#0.2 ran`);
        // One replica at a time: never fewer than 3 running, never more than 4 instances, and
        // each replica has its old or its new instance running at every moment.
        const { pictures } = tree;
        assert.ok(pictures.every((p) => runningIn(p) >= 3), JSON.stringify(pictures));
        assert.ok(pictures.every((p) => p.length <= 4), JSON.stringify(pictures));
        for (const replica of [0, 1, 2]) {
          const served = (p: string[]) =>
            p.includes(`api#${replica}.1:running`) || p.includes(`api#${replica}.2:running`);
          assert.ok(pictures.every(served), `replica ${replica}: ${JSON.stringify(pictures)}`);
        }
      } finally {
        await tree?.stop();
        await loop.stop();
      }
    });
  });
}

Deno.test('POST restart with {"rolling": false} stops every replica, then starts them all', async () => {
  await withApi("worker", async (app, rt) => {
    const tree = sampleTree(rt);
    try {
      const res = await app.request("/v1/containers/api/restart", {
        method: "POST",
        headers: AUTH,
        body: JSON.stringify({ rolling: false }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      await tree.stop();
      assert.ok(tree.pictures.some((p) => runningIn(p) === 0), JSON.stringify(tree.pictures));
      const { container } = await res.json();
      assert.deepEqual(container.instances.map((i: { id: string }) => i.id), [
        "api#0.2",
        "api#1.2",
        "api#2.2",
      ]);
    } finally {
      await tree.stop();
    }
  });
});

Deno.test("POST restart refuses a rolling that is not a boolean, naming the field", async () => {
  await withApi("worker", async (app, rt) => {
    const res = await app.request("/v1/containers/api/restart", {
      method: "POST",
      headers: AUTH,
      body: JSON.stringify({ rolling: "sometimes" }),
    });
    assert.equal(res.status, 400);
    const { error } = await res.json();
    assert.equal(error.key, "rolling");
    assert.match(error.message, /rolling must be true .* or false .*, got "sometimes"/);
    assert.deepEqual(rt.tree().containers[0].instances.map((i) => i.incarnation), [1, 1, 1]);
  });
});
