// reusePort joins whatever listens on a port: a container may use it only on its own serve:
// address, so a container granted net to call another one cannot take that one's clients.
import assert from "node:assert/strict";
import { freePort } from "../_helpers.ts";
import { Runtime } from "../../mod.ts";
import type thief from "./fixtures/port_thief.ts";

const base = new URL("./fixtures/", import.meta.url).href;

/** The routes whose refusal the caller can catch (node:net binds in a later tick). */
const ROUTES = ["Deno.serve", "Deno.listen", "tcp_wrap"];

function refusal(mode: string, call: string, victim: number, own: number): RegExp {
  return new RegExp(
    `${call} is refused in ${mode} container "web": reusePort on 127\\.0\\.0\\.1:${victim} .*only on its own serve: address, 127\\.0\\.0\\.1:${own}$`,
  );
}

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] reusePort on another container's port is refused by every route (NotCapable naming both addresses); the victim serves all its clients and the thief its own port`, async () => {
    const victim = freePort();
    const own = freePort();
    const logs: string[] = [];
    const rt = await Runtime.start({
      containers: {
        api: { module: "./hello.ts", mode: "worker", serve: { port: victim } },
        web: {
          module: "./port_thief.ts",
          mode,
          serve: { port: own, hostname: "127.0.0.1" },
          permissions: { net: [`127.0.0.1:${victim}`] },
        },
      },
    }, { logLevel: "error", logger: (e) => logs.push(e.message), baseUrl: base });
    try {
      const web = rt.ref<typeof thief>("web");
      for (const route of ROUTES) {
        const tried = await web.request("steal", { route, hostname: "127.0.0.1", port: victim });
        assert.equal(tried.ok, false, `${route} joined api's port`);
        if (tried.ok) continue;
        assert.equal(tried.name, "NotCapable", `${route}: ${tried.message}`);
        const call = route === "tcp_wrap" ? "node:net listen" : route;
        assert.match(
          tried.message,
          refusal(mode, `${call}\\(\\{ reusePort: true \\}\\)`, victim, own),
        );
      }
      for (let i = 0; i < 20; i++) {
        const reply = await fetch(`http://127.0.0.1:${victim}/`);
        assert.equal((await reply.json()).instance, "api#0.1");
      }
      assert.equal(await (await fetch(`http://127.0.0.1:${own}/`)).text(), "thief");
      // Its own serve: address is the one place it may: there the route is allowed.
      for (const route of ["Deno.serve", "Deno.listen"]) {
        const tried = await web.request("steal", { route, hostname: "127.0.0.1", port: own });
        assert.deepEqual(tried, { ok: true }, route);
      }
      // node:net binds in a later tick: as Deno's own refusals there, the NotCapable is uncaught
      // and stops the container (on_error), which is logged; the victim is untouched.
      await assert.rejects(
        web.request("steal", { route: "node:net", hostname: "127.0.0.1", port: victim }),
      );
      const stop = refusal(mode, "node:net listen\\(\\{ reusePort: true \\}\\)", victim, own);
      assert.ok(logs.some((line) => stop.test(line.split("\n")[0])), logs.join("\n"));
      assert.equal((await (await fetch(`http://127.0.0.1:${victim}/`)).json()).instance, "api#0.1");
    } finally {
      await rt.shutdown();
    }
  });
}

Deno.test("[process] a container without serve: that lists net itself may still use reusePort where its grant lets it listen", async () => {
  const port = freePort();
  const rt = await Runtime.start({
    containers: {
      web: {
        module: "./port_thief.ts",
        mode: "process",
        unstable: ["net"],
        permissions: { net: [`127.0.0.1:${port}`] },
      },
    },
  }, { logLevel: "silent", baseUrl: base });
  try {
    const web = rt.ref<typeof thief>("web");
    for (const route of ["Deno.serve", "Deno.listen", "node:net"]) {
      assert.deepEqual(await web.request("steal", { route, hostname: "127.0.0.1", port }), {
        ok: true,
      }, route);
    }
  } finally {
    await rt.shutdown();
  }
});
