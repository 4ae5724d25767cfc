// A worker container needs Deno's unstable "worker-options" (a Worker's own permissions); without
// it Deno ends the whole process (exit 70) at the first worker. The runtime refuses the container
// first, with a TopologyError saying what to add, when it can see the feature is off.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

async function host(config: Record<string, unknown>, flags: string[] = []) {
  const dir = await Deno.makeTempDir();
  try {
    const own = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({ imports: own.imports, ...config }),
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { Runtime } from ${JSON.stringify(new URL("mod.ts", ROOT).href)};
      try {
        const rt = await Runtime.start({ containers: { w: { module: ${
        JSON.stringify(new URL("tests/fixtures/echo.ts", ROOT).href)
      }, mode: "worker" } } }, { logLevel: "silent" });
        console.log(JSON.stringify({ started: await rt.ref("w").request("echo", 1) }));
        await rt.shutdown();
      } catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", ...flags, "main.ts"],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, result: JSON.parse(new TextDecoder().decode(out.stdout).trim()) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a worker container in a process without worker-options is refused, saying what to add; the host lives", async () => {
  const { code, result } = await host({});
  assert.equal(code, 0);
  assert.equal(result.name, "TopologyError");
  assert.match(
    result.message,
    /containers\.w\.mode: worker container "w" needs Deno's unstable "worker-options" feature .* expected "unstable": \["worker-options"\] in the runtime's deno\.json/,
  );
});

Deno.test("with worker-options in the runtime's deno.json, or on deno's command line, the worker runs", async () => {
  assert.deepEqual((await host({ unstable: ["worker-options"] })).result, { started: 1 });
  assert.deepEqual((await host({}, ["--unstable-worker-options"])).result, { started: 1 });
});
