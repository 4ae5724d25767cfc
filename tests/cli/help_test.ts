// The command line's own help and mistakes: `kraken help --help`, a misspelt command, `--help`
// paragraphs folded to fit a terminal.
import assert from "node:assert/strict";
import { kraken } from "./_cli.ts";

Deno.test("kraken help --help and kraken help --json print the general help", async () => {
  for (const args of [["help", "--help"], ["help", "-h"], ["--help"], ["help", "--json"]]) {
    const result = await kraken(args);
    assert.equal(result.code, 0, args.join(" "));
    assert.match(result.stdout, /^kraken \d+\.\d+\.\d+ — /, args.join(" "));
  }
});

Deno.test("a misspelt command exits 2 and suggests the command meant", async () => {
  const result = await kraken(["stauts"]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.equal(
    result.stderr,
    'kraken: unknown command "stauts" (did you mean "status"?); run "kraken help"\n',
  );
  const json = await kraken(["relaod", "--json"]);
  assert.equal(json.code, 2);
  assert.deepEqual(JSON.parse(json.stdout), {
    ok: false,
    code: 2,
    message: 'unknown command "relaod" (did you mean "reload"?); run "kraken help"',
  });
});

Deno.test("--help folds its paragraph to 80 columns", async () => {
  const result = await kraken(["reload", "--help"]);
  assert.equal(result.code, 0);
  const paragraph = result.stdout.split("\n\n")[2];
  assert.ok(paragraph.split("\n").length > 1);
  for (const line of paragraph.split("\n")) assert.ok(line.length <= 80, line);
});

Deno.test("an unreachable runtime is said in a few words, exit 3", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close(); // nothing listens there now
  const result = await kraken(["status", "--url", `http://127.0.0.1:${port}`, "--token", "t"]);
  assert.equal(result.code, 3);
  assert.equal(
    result.stderr,
    `kraken status: cannot reach the runtime at http://127.0.0.1:${port} (connection refused); is "kraken start" running with a management: block? Set --url or KRAKEN_URL.\n`,
  );
});

Deno.test("kraken check counts one container in the singular", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.ts`, "export default {};\n");
    await Deno.writeTextFile(`${dir}/kraken.yaml`, "containers:\n  a: { module: ./a.ts }\n");
    const result = await kraken(["check"], { cwd: dir });
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `${dir}/kraken.yaml: ok (1 container)\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken start fails at once, starting nothing, when the API's port is taken", async () => {
  const dir = await Deno.makeTempDir();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await Deno.writeTextFile(`${dir}/a.ts`, "export default {};\n");
    await Deno.writeTextFile(
      `${dir}/kraken.yaml`,
      `containers:\n  a: { module: ./a.ts }\nmanagement:\n  listen: 127.0.0.1:${taken.addr.port}\n  token: t\n`,
    );
    const result = await kraken(["start"], { cwd: dir });
    assert.equal(result.code, 1);
    const [first, ...rest] = result.stderr.split(": Address already in use");
    assert.equal(
      first,
      `kraken start: the management API cannot listen on 127.0.0.1:${taken.addr.port}`,
    );
    assert.match(
      rest.join(""),
      /\(is another "kraken start" running\? --listen 127\.0\.0\.1:0 picks a free port\)\n$/,
    );
    assert.doesNotMatch(result.stderr, /starting|✓/, "nothing was started");
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without a token, exit 4 says where kraken.yaml's token was to come from", async () => {
  const dir = await Deno.makeTempDir();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      Response.json({ error: { type: "Unauthorized", message: "missing bearer token" } }, {
        status: 401,
      }),
  );
  try {
    await Deno.writeTextFile(
      `${dir}/kraken.yaml`,
      `containers: {}\nmanagement:\n  listen: 127.0.0.1:${server.addr.port}\n  token: \${KRAKEN_TEST_UNSET_TOKEN}\n`,
    );
    const result = await kraken(["status"], { cwd: dir, env: { KRAKEN_TOKEN: "" } });
    assert.equal(result.code, 4);
    assert.equal(
      result.stderr,
      'kraken status: unauthorized: no token given; management.token of ./kraken.yaml reads ${KRAKEN_TEST_UNSET_TOKEN}, which is not set here: a project made by "kraken new" keeps it in .env (run "deno task kraken status"), or set --token or KRAKEN_TOKEN\n',
    );
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken start and kraken check refuse a management token whose variable is unset, at its line (exit 2)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/kraken.yaml`,
      "containers: {}\nmanagement:\n  token: ${KRAKEN_TEST_UNSET_TOKEN}\n",
    );
    for (const command of ["start", "check"]) {
      const result = await kraken([command], { cwd: dir });
      assert.equal(result.code, 2, `${command}: ${result.stderr}`);
      assert.match(
        result.stderr,
        /kraken\.yaml:3:10: management\.token: environment variable \$\{KRAKEN_TEST_UNSET_TOKEN\} is not set/,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
