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

Deno.test("kraken new --jsr imports @kraken/kraken from JSR even from a checkout, and says so", async () => {
  const parent = await Deno.makeTempDir({ prefix: "kraken-new-" });
  try {
    const result = await kraken(["new", `${parent}/app`, "--jsr"], { env: { KRAKEN_PATH: "" } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Kraken from jsr:@kraken\/kraken@\^0\.1 \(--jsr\)/);
    const config = JSON.parse(await Deno.readTextFile(`${parent}/app/deno.json`));
    assert.equal(config.imports["@kraken/kraken"], "jsr:@kraken/kraken@^0.1");
    assert.equal(config.imports["@kraken/kraken/container"], "jsr:@kraken/kraken@^0.1/container");
    assert.match(config.tasks.start, /jsr:@kraken\/kraken@\^0\.1\/cli start kraken\.yaml/);
    const both = await kraken(["new", `${parent}/other`, "--jsr", "--kraken-path", ROOT]);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /--kraken-path and --jsr/);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

// No network: a dead proxy for every URL (JSR, and the npm registry: packages come from Deno's
// cache, where this checkout's own tests put them).
const OFFLINE = {
  HTTP_PROXY: "http://127.0.0.1:9",
  HTTPS_PROXY: "http://127.0.0.1:9",
  http_proxy: "http://127.0.0.1:9",
  https_proxy: "http://127.0.0.1:9",
  NO_PROXY: "",
  no_proxy: "",
  DENO_NO_UPDATE_CHECK: "1",
};

Deno.test("kraken new run from a checkout points the project at that checkout by default, its containers at its light entry, says so, and its test passes offline", async () => {
  const parent = await Deno.makeTempDir({ prefix: "kraken-new-" });
  const dir = `${parent}/offline`;
  try {
    const created = await kraken(["new", dir], { env: { KRAKEN_PATH: "", ...OFFLINE } });
    assert.equal(created.code, 0, created.stderr);
    assert.match(
      created.stdout,
      /Kraken from the checkout at \S+ \(this kraken runs from that checkout; --jsr for JSR\)/,
    );
    const config = JSON.parse(await Deno.readTextFile(`${dir}/deno.json`));
    const mod = config.imports["@kraken/kraken"] as string;
    assert.ok(mod.endsWith("/mod.ts"), mod);
    assert.equal(
      await Deno.realPath(new URL(mod, `file://${dir}/`).pathname),
      await Deno.realPath(`${ROOT}/mod.ts`),
      "the project imports this very checkout",
    );
    // Its container modules import the light entry, of the same checkout.
    const light = config.imports["@kraken/kraken/container"] as string;
    assert.equal(
      await Deno.realPath(new URL(light, `file://${dir}/`).pathname),
      await Deno.realPath(`${ROOT}/container.ts`),
    );
    for (const file of ["greeter.ts", "counter.ts"]) {
      const source = await Deno.readTextFile(`${dir}/containers/${file}`);
      assert.match(source, /^import \{ container \} from "@kraken\/kraken\/container";$/m, file);
    }
    const test = await new Deno.Command(Deno.execPath(), {
      args: ["task", "test"],
      cwd: dir,
      env: { NO_COLOR: "1", ...OFFLINE },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(test.stdout) + new TextDecoder().decode(test.stderr);
    assert.equal(test.code, 0, out);
    assert.match(out, /1 passed/);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("kraken new says once which folder it created, then what to run next", async () => {
  const parent = await Deno.makeTempDir({ prefix: "kraken-new-" });
  try {
    const created = await kraken(["new", "app"], {
      cwd: parent,
      env: { KRAKEN_PATH: "", ...OFFLINE },
    });
    assert.equal(created.code, 0, created.stderr);
    const lines = created.stdout.split("\n");
    assert.match(lines[0], /^created app\/ with \d+ files:$/);
    const said = lines.filter((line) => !line.startsWith("  Kraken from")).join("\n");
    assert.equal(said.match(/\bapp\b/g)?.length, 2, "the folder once, then in `cd app`");
    assert.ok(
      lines.includes("next: cd app && deno task start   # Ctrl-C stops it"),
      created.stdout,
    );

    const named = await kraken(["new", "my shop", "--name", "shop"], {
      cwd: parent,
      env: { KRAKEN_PATH: "", ...OFFLINE },
    });
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /^created my shop\/ \(application shop\) with \d+ files:$/m);
    assert.match(named.stdout, /^next: cd 'my shop' && deno task start/m);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
