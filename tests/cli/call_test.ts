// `kraken call NAME TOPIC [JSON]`, the real command as a subprocess against a real runtime
// (worker replicas) serving its management API: the reply pretty for a person and one JSON line
// with --json; reply errors printed with their type, exit 1; bad usage exit 2 before anything is
// sent; a wrong token exit 4.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { serveManagement } from "../../management/server.ts";
import { CLI, kraken, type Result } from "./_cli.ts";

const TOKEN = "call-cli-" + crypto.randomUUID();
const CALLEE = new URL("../fixtures/callee.ts", import.meta.url).href;

/** `kraken call ARGS` with `input` on its stdin. */
async function callWithStdin(args: string[], env: Record<string, string>, input: Uint8Array) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "call", ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input).catch(() => {}); // it may stop reading (and close) early
  await writer.close().catch(() => {});
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

function show(result: Result): string {
  return `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

Deno.test("kraken call prints replies and typed reply errors with the CLI's exit codes", async (t) => {
  const rt = await Runtime.start({
    name: "calls",
    containers: {
      callee: { module: CALLEE, mode: "worker", replicas: 2, balance: "key_hash" },
    },
  }, { logLevel: "silent" });
  const api = await serveManagement(rt, { listen: "127.0.0.1:0", token: TOKEN });
  const env = { KRAKEN_URL: api.url.href, KRAKEN_TOKEN: TOKEN };
  const call = (...args: string[]) => kraken(["call", ...args], { env });
  try {
    await t.step("the reply is pretty JSON for a person, one JSON line with --json", async () => {
      const human = await call("callee", "kinds");
      assert.equal(human.code, 0, show(human));
      assert.equal(
        human.stdout,
        JSON.stringify(
          { at: "2026-01-02T03:04:05.000Z", raw: { $bytes: "aGk=" }, list: [1, "two", null, true] },
          null,
          2,
        ) + "\n",
      );
      const json = await call("callee", "add", '{"a": 2, "b": 40}', "--json");
      assert.equal(json.code, 0, show(json));
      assert.equal(json.stdout, "42\n");
      const nothing = await call("callee", "echo");
      assert.equal(nothing.stdout, "null\n", "no body is null");
    });

    await t.step("- reads the body from stdin", async () => {
      const piped = await callWithStdin(
        ["callee", "echo", "-", "--json"],
        env,
        new TextEncoder().encode('{"raw": {"$bytes": "AAEC/w=="}, "n": [1, 2]}\n'),
      );
      assert.equal(piped.code, 0, show(piped));
      assert.equal(piped.stdout, '{"raw":{"$bytes":"AAEC/w=="},"n":[1,2]}\n');
    });

    await t.step(
      '--send prints nothing ({"ok":true} with --json) and the handler runs',
      async () => {
        const before = Number((await call("callee", "notes", "--key", "k", "--json")).stdout);
        const quiet = await call("callee", "note", "--send", "--key", "k");
        assert.equal(quiet.code, 0, show(quiet));
        assert.equal(quiet.stdout, "");
        const json = await call("callee", "note", "--send", "--key", "k", "--json");
        assert.equal(json.stdout, '{"ok":true}\n');
        const after = Number((await call("callee", "notes", "--key", "k", "--json")).stdout);
        assert.equal(after, before + 2);
      },
    );

    await t.step("an unknown container: UnavailableError, exit 1", async () => {
      const result = await call("nobody", "echo");
      assert.equal(result.code, 1, show(result));
      assert.equal(
        result.stderr,
        'kraken call: UnavailableError: no container named "nobody" (known: callee)\n',
      );
    });

    await t.step("an unknown topic: UnknownTopicError listing the topics, exit 1", async () => {
      const result = await call("callee", "ad");
      assert.equal(result.code, 1, show(result));
      assert.match(
        result.stderr,
        /^kraken call: UnknownTopicError: container "callee" has no handler for topic "ad" \(it handles: echo, add, kinds, whoami, fail, slow, note, notes\)\n$/,
      );
    });

    await t.step(
      "a handler that throws: RemoteError with its name and message, exit 1",
      async () => {
        const human = await call("callee", "fail", '{"message": "boom"}');
        assert.equal(human.code, 1, show(human));
        assert.equal(
          human.stderr,
          'kraken call: RemoteError: container "callee" threw RangeError: boom\n',
        );
        const json = await call("callee", "fail", '{"message": "boom"}', "--json");
        assert.equal(json.code, 1);
        const printed = JSON.parse(json.stdout);
        assert.equal(printed.ok, false);
        assert.equal(printed.code, 1);
        assert.equal(printed.status, 502);
        assert.equal(printed.error.type, "RemoteError");
        assert.equal(printed.error.remote.name, "RangeError");
        assert.match(printed.error.remote.stack, /RangeError: boom/);
      },
    );

    await t.step("no reply within --timeout: TimeoutError, exit 1", async () => {
      const result = await call("callee", "slow", '{"ms": 1500}', "--timeout", "200ms");
      assert.equal(result.code, 1, show(result));
      assert.equal(
        result.stderr,
        'kraken call: TimeoutError: request "slow" to container "callee" got no reply within 200 ms\n',
      );
    });

    await t.step("a wrong token: exit 4, nothing sent", async () => {
      const before = Number((await call("callee", "notes", "--key", "k", "--json")).stdout);
      const result = await kraken(["call", "callee", "note", "--send", "--key", "k"], {
        env: { ...env, KRAKEN_TOKEN: "wrong" },
      });
      assert.equal(result.code, 4, show(result));
      assert.match(result.stderr, /unauthorized: wrong bearer token or signature/);
      assert.equal(Number((await call("callee", "notes", "--key", "k", "--json")).stdout), before);
    });

    await t.step("bad JSON is exit 2 naming its line and column", async () => {
      const result = await call("callee", "echo", '{"a": 1,\n "b": tru}');
      assert.equal(result.code, 2, show(result));
      assert.equal(
        result.stderr,
        'kraken call: the body is not valid JSON at line 2, column 10 (near "}"): Unexpected token \'}\' (see "kraken call --help")\n',
      );
      const cut = await call("callee", "echo", '{"a": [1, 2');
      assert.match(cut.stderr, /not valid JSON at line 1, column 12 \(at its end\)/);
    });

    await t.step("usage mistakes are exit 2, an unknown flag with a did-you-mean", async () => {
      const cases: [string[], RegExp][] = [
        [
          ["callee", "echo", "--timout", "1s"],
          /unknown option --timout \(did you mean --timeout\?\)/,
        ],
        [["callee"], /missing TOPIC/],
        [["callee", "echo", "1", "2"], /unexpected argument "2" \(the body is one JSON argument/],
        [["callee", "echo", "--timeout", "soon"], /--timeout must be a duration > 0 .* got "soon"/],
        [["callee", "echo", "--retries", "x"], /--retries must be a whole number >= 0, got "x"/],
        [["callee", "echo", "--timeout", "2m", "--retries", "2"], /at most 5m, got 360s/],
        [["callee", "echo", "--send", "--timeout", "1s"], /--timeout applies to a request/],
      ];
      for (const [args, message] of cases) {
        const result = await call(...args);
        assert.equal(
          result.code,
          2,
          `${args.join(" ").slice(0, 80)}: ${show(result).slice(0, 500)}`,
        );
        assert.match(result.stderr, message);
      }
      // A body that fits on stdin but not, with its topic, in a request the API would read.
      const almost = JSON.stringify("x".repeat((1 << 20) - 10));
      const over = await callWithStdin(
        ["callee", "echo", "-"],
        env,
        new TextEncoder().encode(almost),
      );
      assert.equal(over.code, 2, show(over));
      assert.match(
        over.stderr,
        /the request is 1048\d+ bytes; the management API takes at most 1048576 \(1 MiB\)/,
      );
      const big = await callWithStdin(["callee", "echo", "-"], env, new Uint8Array((1 << 20) + 10));
      assert.equal(big.code, 2, show(big));
      assert.match(big.stderr, /the body on stdin is over 1048576 bytes \(1 MiB\)/);
    });

    await t.step("kraken help lists call, and kraken call --help says its options", async () => {
      const help = await kraken(["help"]);
      assert.match(help.stdout, /^ {2}call NAME TOPIC \[JSON\] +send a request to a container/m);
      const own = await kraken(["call", "--help"]);
      assert.equal(own.code, 0);
      for (
        const flag of ["--timeout", "--retries", "--key", "--send", "--url", "--token", "--json"]
      ) {
        assert.ok(own.stdout.includes(flag), flag);
      }
    });
  } finally {
    await api.close();
    await rt.shutdown();
  }
});
