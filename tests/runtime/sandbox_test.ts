// The permission sandbox, observed from inside workers and processes.
import assert from "node:assert/strict";
import { Runtime, TopologyError } from "../../mod.ts";
import type echo from "../fixtures/echo.ts";
import { FIXTURES, withRuntime } from "../_helpers.ts";

type Echo = typeof echo;
const fixturesDir = new URL(".", FIXTURES).pathname;

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] with no permissions: reading a file and opening a socket are denied`, async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    await withRuntime({ containers: { box: { module: "./echo.ts", mode } } }, async (rt) => {
      const ref = rt.ref<Echo>("box");
      assert.deepEqual(await ref.request("readFile", { path: "/etc/hostname" }), {
        ok: false,
        name: "NotCapable",
      });
      const port = listener.addr.port;
      assert.deepEqual(await ref.request("connect", { host: "127.0.0.1", port }), {
        ok: false,
        name: "NotCapable",
      });
    });
  });

  Deno.test(`[${mode}] granted read and net reach exactly what is listed`, async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    const accepting = (async () => {
      for await (const conn of listener) conn.close();
    })().catch(() => {});
    await withRuntime({
      containers: {
        box: {
          module: "./echo.ts",
          mode,
          permissions: { read: ["./"], net: [`127.0.0.1:${port}`] },
        },
      },
    }, async (rt) => {
      const ref = rt.ref<Echo>("box");
      const inside = await ref.request("readFile", { path: `${fixturesDir}echo.ts` });
      assert.equal(inside.ok, true);
      assert.deepEqual(await ref.request("readFile", { path: "/etc/hostname" }), {
        ok: false,
        name: "NotCapable",
      });
      assert.deepEqual(await ref.request("connect", { host: "127.0.0.1", port }), { ok: true });
      assert.deepEqual(
        await ref.request("connect", { host: "127.0.0.1", port: port === 1 ? 2 : port - 1 }),
        {
          ok: false,
          name: "NotCapable",
        },
      );
    });
    listener.close();
    await accepting;
  });
}

Deno.test("[inline] an inline container has no sandbox: it runs with the host's permissions", async () => {
  await withRuntime(
    { containers: { box: { module: "./echo.ts", mode: "inline" } } },
    async (rt) => {
      const reply = await rt.ref<Echo>("box").request("readFile", {
        path: `${fixturesDir}echo.ts`,
      });
      assert.equal(reply.ok, true);
    },
  );
});

Deno.test("a permission wider than the host's grant is refused before anything starts", async () => {
  const script = new URL("./escalation_host.ts", FIXTURES).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", `--allow-read`, "--allow-env", "--allow-run", "--allow-sys", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(lines, [
    'PermissionEscalationError net container "wide" asks for net "127.0.0.1:9"',
    'PermissionEscalationError write container "writer" asks for write (all)',
  ]);
});

Deno.test("unknown permission keys are TopologyErrors that suggest the right one", async () => {
  const error = await Runtime.start(
    { containers: { box: { module: "./echo.ts", permissions: { nett: ["x"] } } } },
    { logLevel: "silent", baseUrl: FIXTURES.href },
  ).catch((e) => e);
  assert.ok(error instanceof TopologyError);
  assert.equal(error.key, "containers.box.permissions.nett");
  assert.match(error.message, /unknown permission "nett" \(did you mean "net"\?\)/);
});
