// ctx.spawn inside a sandboxed container compares the child's grant with its parent's where the
// paths lead: a symbolic link inside the parent's folder pointing out of it is refused, although
// Deno's own check of a nested sandbox, which reads paths as text, would let it through.
import assert from "node:assert/strict";
import { withRuntime } from "../_helpers.ts";

for (const mode of ["process", "worker"] as const) {
  Deno.test(`a ${mode} container cannot ctx.spawn a child whose grant leaves its own through a symbolic link`, async () => {
    const fixtures = decodeURIComponent(new URL("../fixtures/", import.meta.url).pathname);
    const dir = await Deno.realPath(await Deno.makeTempDir());
    try {
      await Deno.mkdir(`${dir}/data/sub`, { recursive: true });
      await Deno.symlink("/etc", `${dir}/data/etc`);
      await withRuntime({
        containers: {
          boss: {
            module: "./member.ts",
            mode,
            permissions: { read: [fixtures, `${dir}/data`] },
          },
        },
      }, async (rt) => {
        const boss = rt.ref("boss");
        const spawn = (read: string) =>
          boss.request("spawn", {
            name: "child",
            spec: { module: "./member.ts", mode: "worker", permissions: { read: [read] } },
          }) as Promise<{ ok: boolean; name?: string; message?: string }>;
        const refused = await spawn(`${dir}/data/etc`);
        assert.equal(refused.name, "PermissionEscalationError", JSON.stringify(refused));
        assert.equal(
          refused.message,
          `container "child" asks for read "${dir}/data/etc", which cannot be granted: it is /etc, and its parent "boss" does not have it, and a child runs inside its parent's sandbox`,
        );
        assert.deepEqual(await spawn(`${dir}/data/sub`), { ok: true });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
