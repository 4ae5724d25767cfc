// `kraken new DIR` scaffolds a project that passes its own test and starts with its own task,
// run here for real (the project points at this checkout: JSR is not reachable from tests).
import assert from "node:assert/strict";
import { alive, descendants, kraken, ROOT, Running, waitUntil } from "./_cli.ts";

function deno(args: string[], cwd: string): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("kraken new: the project's own deno test passes and deno task start runs until shutdown", async () => {
  const parent = await Deno.makeTempDir({ prefix: "kraken-new-" });
  const dir = `${parent}/shop`;
  try {
    const created = await kraken(["new", dir, "--kraken-path", ROOT]);
    assert.equal(created.code, 0, created.stderr);
    for (
      const file of [
        "kraken.yaml",
        "deno.json",
        ".env",
        ".gitignore",
        "containers/greeter.ts",
        "containers/counter.ts",
        "tests/app_test.ts",
      ]
    ) {
      assert.ok((await Deno.stat(`${dir}/${file}`)).isFile, file);
    }
    const yaml = await Deno.readTextFile(`${dir}/kraken.yaml`);
    assert.match(yaml, /^name: shop$/m);
    assert.match(yaml, /mode: worker/);
    assert.match(yaml, /mode: process/);
    assert.match(yaml, /token: \$\{KRAKEN_TOKEN\}/);
    const token = /^KRAKEN_TOKEN=([0-9a-f]{48})$/m.exec(await Deno.readTextFile(`${dir}/.env`))
      ?.[1];
    assert.ok(token, ".env holds a fresh token");
    assert.equal((await Deno.stat(`${dir}/.env`)).mode! & 0o077, 0, ".env is private");

    // Its own test: starts the topology and asks both containers.
    const test = await deno(["task", "test"], dir).output();
    const testOut = new TextDecoder().decode(test.stdout) + new TextDecoder().decode(test.stderr);
    assert.equal(test.code, 0, testOut);
    assert.match(testOut, /1 passed/);

    // Its start task, on a free port so tests can run side by side.
    const started = new Running(deno(["task", "start", "--listen", "127.0.0.1:0"], dir));
    const everything = new Set<number>();
    try {
      const [, url] = await started.waitFor(/management API: (http:\/\/127\.0\.0\.1:\d+\/)/);
      await started.waitFor(/Ctrl-C to stop/);
      assert.match(started.stdout, /^greeter\s+worker\s+local\s+running\s+2\/2/m);
      assert.match(started.stdout, /^counter\s+process\s+local\s+running\s+1\/1/m);
      const env = { KRAKEN_URL: url, KRAKEN_TOKEN: token };
      const status = await kraken(["status", "--json"], { env, cwd: dir });
      assert.equal(status.code, 0, status.stderr);
      assert.deepEqual(JSON.parse(status.stdout).containers.map((c: { name: string }) => c.name), [
        "greeter",
        "counter",
      ]);
      const logs = await kraken(["logs", "counter", "--no-follow"], { env, cwd: dir });
      assert.match(logs.stdout, /counter ready \(counter#0\.1\)/);
      descendants(started.pid).forEach((pid) => everything.add(pid));
      assert.ok(everything.size >= 2, "the task's kraken and the counter process");
      const stopped = await kraken(["shutdown"], { env, cwd: dir });
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(await started.exit(), 0, started.stderr);
      await waitUntil(() => [...everything].every((pid) => !alive(pid)), 5000, "no process left");
    } finally {
      await started.kill();
    }
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("kraken new refuses a folder that is not empty (exit 2) and writes nothing there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-new-" });
  try {
    await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
    const result = await kraken(["new", dir, "--kraken-path", ROOT]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /exists and is not empty/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["notes.txt"]);

    const missing = await kraken(["new"]);
    assert.equal(missing.code, 2);
    const notKraken = await kraken(["new", `${dir}/x`, "--kraken-path", dir]);
    assert.equal(notKraken.code, 2);
    assert.match(notKraken.stderr, /not a Kraken checkout/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken new without --kraken-path imports @kraken/kraken from JSR", async () => {
  const parent = await Deno.makeTempDir({ prefix: "kraken-new-" });
  try {
    const result = await kraken(["new", `${parent}/app`, "--json"], { env: { KRAKEN_PATH: "" } });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).name, "app");
    const config = JSON.parse(await Deno.readTextFile(`${parent}/app/deno.json`));
    assert.equal(config.imports["@kraken/kraken"], "jsr:@kraken/kraken@^0.1");
    assert.match(config.tasks.start, /jsr:@kraken\/kraken@\^0\.1\/cli start kraken\.yaml/);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
