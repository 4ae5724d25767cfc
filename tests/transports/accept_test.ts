// What bounds a listener's file descriptors: an accept that fails (the process is out of them)
// never ends the listener, authenticated links are capped per listener, and refusals are reported
// at most once a second with a count. Real sockets; the listener that runs out of descriptors
// does so in its own process, started with a low `ulimit -n`.
import assert from "node:assert/strict";
import { defaultTransports } from "../../transports/defaults.ts";
import type { Link } from "../../transports/link.ts";
import { TransportSet } from "../../transports/transport_set.ts";
import { Runtime } from "../../mod.ts";

const builtin = new TransportSet(defaultTransports());
const SECRET = "accept-secret";

/** The echo listener in a process whose open-file limit is `files`. */
async function listenerWithFewFiles(url: string, files: number) {
  const fixture = new URL("../fixtures/echo_listener.ts", import.meta.url).pathname;
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n ${files} && exec "$0" run -A --no-lock "$@"`,
      Deno.execPath(),
      fixture,
      SECRET,
      url,
      "1000",
    ],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) out += (await lines.read()).value ?? "";
  return {
    url: new URL(out.trim()),
    async stop(): Promise<{ links: number; acceptErrors: string[] }> {
      await child.stdin.close();
      const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
      out = "";
      while (true) {
        const { value, done } = await lines.read();
        if (done) break;
        out += value;
      }
      const status = await child.status;
      clearTimeout(kill);
      assert.equal(status.code, 0, "the listener process ended by itself");
      return JSON.parse(out.trim());
    },
  };
}

for (const scheme of ["tcp", "ws"] as const) {
  Deno.test(`${scheme}: a listener out of file descriptors keeps accepting once they are back, and says so once a second`, async () => {
    const listener = await listenerWithFewFiles(
      scheme === "ws" ? "ws://127.0.0.1:0/kraken" : "tcp://127.0.0.1:0",
      64,
    );
    const idle: Deno.Conn[] = [];
    try {
      // More idle connections than the listener may hold files: its accept fails (EMFILE) while
      // they wait (the kernel queues the rest).
      for (let i = 0; i < 120; i++) {
        idle.push(await Deno.connect({ hostname: "127.0.0.1", port: Number(listener.url.port) }));
      }
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      for (const conn of idle) conn.close();
    }
    // The handshake timeout (1 s) frees what the listener took; the kernel's queue drains.
    const link = await dialWithin(listener.url, 8_000);
    const echoed = new Promise((resolve) => (link.onEnvelope = resolve));
    link.send({ k: "pub", t: "back", b: 1 });
    assert.deepEqual(await echoed, { k: "pub", t: "back", b: 1 });
    link.close();
    await link.closed;
    const report = await listener.stop();
    assert.ok(report.acceptErrors.length >= 1, "the failed accepts were reported");
    assert.ok(
      report.acceptErrors.length <= 4,
      `at most one report a second, got ${report.acceptErrors.length}`,
    );
    assert.match(
      report.acceptErrors[0],
      /^the listener at \S+ cannot accept a connection: Too many open files.*; it keeps trying/,
    );
  });
}

/** Dials until a link is made (each try bounded), or fails after `ms`. */
async function dialWithin(url: URL, ms: number): Promise<Link> {
  const deadline = performance.now() + ms;
  while (true) {
    try {
      return await builtin.dial(url, { secret: SECRET, handshakeTimeout: 1000 });
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

Deno.test("a listener holds at most maxLinks authenticated links: one more is closed before its handshake, and room comes back", async () => {
  const links: Link[] = [];
  const refusals: string[] = [];
  const listener = await builtin.listen("tcp://127.0.0.1:0", {
    secret: SECRET,
    maxLinks: 3,
    handshakeTimeout: 1000,
    onLink(link) {
      links.push(link);
      link.onEnvelope = (env) => link.send(env);
    },
    onRefused: (error) => refusals.push(`${error.name}: ${error.message}`),
  });
  const dialed: Link[] = [];
  try {
    for (let i = 0; i < 3; i++) dialed.push(await builtin.dial(listener.url, { secret: SECRET }));
    await assert.rejects(
      builtin.dial(listener.url, { secret: SECRET, handshakeTimeout: 1000 }),
      { name: "AuthenticationError" },
    );
    assert.deepEqual(refusals, [
      "UnavailableError: the listener already holds 3 authenticated links (its limit is 3); connection closed",
    ]);
    assert.equal(links.length, 3);
    dialed.shift()!.close();
    while (links.filter((l) => !isClosed(l)).length > 2) await new Promise((r) => setTimeout(r, 5));
    dialed.push(await builtin.dial(listener.url, { secret: SECRET }));
    assert.equal(links.length, 4);
  } finally {
    for (const link of [...dialed, ...links]) link.close();
    await Promise.all([...dialed, ...links].map((l) => l.closed));
    await listener.close();
  }
});

const closedLinks = new WeakSet<Link>();
function isClosed(link: Link): boolean {
  if (!closedLinks.has(link)) link.closed.then(() => closedLinks.add(link));
  return closedLinks.has(link);
}

Deno.test("refused connections reach onRefused at most once a second, each report saying how many it stands for", async () => {
  const reports: { message: string; more: number }[] = [];
  const listener = await builtin.listen("tcp://127.0.0.1:0", {
    secret: SECRET,
    onLink: (link) => link.close(),
    onRefused: (error, _peer, more) => reports.push({ message: error.message, more }),
  });
  try {
    const started = performance.now();
    for (let batch = 0; batch < 4; batch++) {
      await Promise.all(Array.from({ length: 50 }, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(listener.url.port) });
        await conn.write(new Uint8Array([0, 0, 0, 1, 0xc1])).catch(() => {}); // not a handshake
        while ((await conn.read(new Uint8Array(256)).catch(() => null)) !== null) {
          /* to its end */
        }
        conn.close();
      }));
    }
    const seconds = (performance.now() - started) / 1000;
    while (reports.reduce((n, r) => n + 1 + r.more, 0) < 200) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(reports.reduce((n, r) => n + 1 + r.more, 0), 200, "every refusal is counted");
    assert.ok(
      reports.length <= Math.ceil(seconds) + 2,
      `${reports.length} reports in ${seconds} s`,
    );
    assert.equal(reports[0].more, 0);
    assert.match(reports.at(-1)!.message, /\(and \d+ more refused in the last second\)$/);
  } finally {
    await listener.close();
  }
});

Deno.test("a runtime logs connections refused before authentication at most once a second, so a flood cannot wipe its log", async () => {
  const lines: string[] = [];
  const rt = await Runtime.start({
    name: "logged",
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET },
    containers: {},
  }, { logLevel: "info", logger: (entry) => lines.push(entry.message) });
  try {
    const port = Number(rt.listening!.port);
    for (let batch = 0; batch < 5; batch++) {
      await Promise.all(Array.from({ length: 100 }, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(new Uint8Array([0, 0, 0, 1, 0xc1])).catch(() => {});
        while ((await conn.read(new Uint8Array(256)).catch(() => null)) !== null) { /* end */ }
        conn.close();
      }));
    }
    const refused = lines.filter((line) => line.startsWith("refused a link from"));
    assert.ok(refused.length >= 1 && refused.length <= 3, `${refused.length} lines for 500`);
  } finally {
    await rt.shutdown();
  }
  const refused = lines.filter((line) => line.startsWith("refused a link from"));
  const counted = refused.reduce(
    (n, line) =>
      n + 1 + Number(/\(and (\d+) more refused in the last second\)$/.exec(line)?.[1] ?? 0),
    0,
  );
  assert.equal(counted, 500, "every refusal is counted in the lines");
});

Deno.test("a listener whose onLink throws says so and keeps serving: no unhandled rejection ends the process", async () => {
  const transport = builtin.transportFor(new URL("tcp://127.0.0.1:0"));
  let calls = 0;
  const printed: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => printed.push(args.join(" "));
  const listener = await transport.listen(new URL("tcp://127.0.0.1:0"), {
    secret: SECRET,
    onLink(link) {
      calls++;
      link.close();
      throw new Error("a bug in whoever took the link");
    },
  });
  try {
    for (let i = 0; i < 2; i++) {
      const link = await builtin.dial(listener.url, { secret: SECRET });
      await link.closed;
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls, 2);
    assert.ok(printed.some((line) => line.includes("a bug in whoever took the link")));
  } finally {
    console.error = error;
    await listener.close();
  }
});
