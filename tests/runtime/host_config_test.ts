// Which config a host resolves with, told to its process containers: Deno 2.9.6's own rule
// (measured, see runtime/_host_config.ts) applied to a host's command line, case by case.
import assert from "node:assert/strict";
import { resolutionFlags } from "../../runtime/_host_config.ts";

const configs = new Set(["/srv/app/deno.json", "/srv/app/sub/deno.jsonc", "/home/me/deno.json"]);

/** The flags for a host started as `argv` in `/home/me` whose main module is `/srv/app/sub/main.ts`. */
function flags(argv: string[] | null, mainModule = "file:///srv/app/sub/main.ts"): string {
  return resolutionFlags({
    argv,
    cwd: "/home/me",
    mainModule,
    exists: (path) => configs.has(path),
  }).join(" ");
}

Deno.test("deno run: the nearest config up from the main module's folder, not the working directory's", () => {
  assert.equal(
    flags(["deno", "run", "-A", "/srv/app/sub/main.ts"]),
    "--config /srv/app/sub/deno.jsonc",
  );
  assert.equal(
    flags(["deno", "run", "main.ts"], "file:///srv/app/lib/main.ts"),
    "--config /srv/app/deno.json",
  );
  assert.equal(
    flags(["deno", "-A", "main.ts"], "file:///srv/app/lib/main.ts"),
    "--config /srv/app/deno.json",
  );
  assert.equal(
    flags(["deno", "serve", "main.ts"], "file:///srv/app/lib/main.ts"),
    "--config /srv/app/deno.json",
  );
});

Deno.test("deno test and eval: the nearest config up from the working directory", () => {
  assert.equal(
    flags(["deno", "test", "-A", "/srv/app/sub/x_test.ts"]),
    "--config /home/me/deno.json",
  );
  assert.equal(
    flags(["deno", "eval", "code"], "file:///home/me/$deno$eval.mts"),
    "--config /home/me/deno.json",
  );
});

Deno.test("no config found, or deno run of a remote module: --no-config, so a subprocess does not discover one of its own", () => {
  assert.equal(flags(["deno", "run", "main.ts"], "file:///opt/tool/main.ts"), "--no-config");
  assert.equal(
    flags(["deno", "run", "https://example.com/m.ts"], "https://example.com/m.ts"),
    "--no-config",
  );
});

Deno.test("an explicit --config, -c or --no-config wins, its path made absolute against the working directory", () => {
  assert.equal(
    flags(["deno", "run", "--config", "alt.json", "main.ts"]),
    "--config /home/me/alt.json",
  );
  assert.equal(
    flags(["deno", "run", "-c", "../x/deno.json", "main.ts"]),
    "--config /home/x/deno.json",
  );
  assert.equal(flags(["deno", "run", "--config=/etc/k.json", "main.ts"]), "--config /etc/k.json");
  assert.equal(flags(["deno", "run", "--no-config", "main.ts"]), "--no-config");
});

Deno.test("the host's resolution flags are passed on; permissions and everything after the script are not", () => {
  assert.equal(
    flags([
      "deno",
      "run",
      "-A",
      "--import-map",
      "map.json",
      "--no-lock",
      "--node-modules-dir=auto",
      "--unstable-sloppy-imports",
      "--allow-net=x",
      "main.ts",
      "--config",
      "not-ours.json",
      "--cached-only",
    ]),
    "--config /srv/app/sub/deno.jsonc --import-map=/home/me/map.json --no-lock " +
      "--node-modules-dir=auto --unstable-sloppy-imports",
  );
  assert.equal(
    flags(["deno", "run", "--lock", "my.lock", "--frozen", "main.ts"]),
    "--config /srv/app/sub/deno.jsonc --lock=/home/me/my.lock --frozen",
  );
});

Deno.test("deno test: flags after the test files still count, script arguments after -- do not", () => {
  assert.equal(
    flags(["deno", "test", "a_test.ts", "--no-lock", "b_test.ts", "--", "--config", "x.json"]),
    "--config /home/me/deno.json --no-lock",
  );
});

Deno.test("an unknown command line is taken as deno run without flags", () => {
  assert.equal(flags(null), "--config /srv/app/sub/deno.jsonc");
});
