// The host <-> process link: a unix socket by default (the faster channel, see
// runtime/_process_link.ts), stdin/stdout as the fallback. Both carry the same traffic; the socket
// widens the sandbox by nothing but itself, and only a process proving its token gets the link.
import assert from "node:assert/strict";
import { listenForProcess } from "../../runtime/_process_link.ts";
import type { Runtime } from "../../mod.ts";
import { FIXTURES, withRuntime } from "../_helpers.ts";

const member = { module: "./member.ts", mode: "process" as const };

/** The command line of process `pid`, as arguments. */
function cmdline(pid: number): string[] {
  return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter(Boolean);
}

Deno.test("a process container links back over a unix socket whose file is gone once connected", async () => {
  await withRuntime({ containers: { p: member } }, async (rt) => {
    const pid = await rt.ref("p").request("pid") as number;
    const args = cmdline(pid);
    const socket = args.find((a) => a.endsWith(".sock") && !a.startsWith("-"))!;
    assert.ok(socket, `no socket among ${args.join(" ")}`);
    assert.throws(() => Deno.statSync(socket), Deno.errors.NotFound);
    assert.equal(await rt.ref("p").request("count"), 1);
  });
});

/** The socket path a process container was started with, and how it answers permission queries. */
async function probe(rt: Runtime, name: string) {
  const pid = await rt.ref(name).request("pid") as number;
  const socket = cmdline(pid).find((a) => a.endsWith(".sock") && !a.startsWith("-"))!;
  // "prompt" under --no-prompt is a refusal too: anything but "granted" is not held.
  const ask = async (d: Deno.PermissionDescriptor) =>
    (await rt.ref(name).request("permission", d)) === "granted" ? "granted" : "denied";
  return { socket, dir: socket.slice(0, socket.lastIndexOf("/")), ask };
}

Deno.test("once connected, the socket leaves nothing in the sandbox: not its own path, no other path, no network", async () => {
  const seen = { ...member, permissions: { env: ["KRAKEN_SEEN"] } };
  await withRuntime({ containers: { p: seen } }, async (rt) => {
    const { socket, dir, ask } = await probe(rt, "p");
    assert.equal(await ask({ name: "read", path: socket }), "denied");
    assert.equal(await ask({ name: "write", path: socket }), "denied");
    assert.equal(await ask({ name: "net", host: `unix:${socket}` }), "denied");
    assert.equal(await ask({ name: "net" }), "denied");
    assert.equal(await ask({ name: "net", host: "127.0.0.1" }), "denied");
    assert.equal(await ask({ name: "read", path: dir }), "denied");
    assert.equal(await ask({ name: "write", path: `${dir}/other.sock` }), "denied");
    assert.equal(await ask({ name: "read", path: "/etc/hostname" }), "denied");
    assert.equal(await ask({ name: "env", variable: "KRAKEN_SEEN" }), "granted", "the probe sees");
    // The host removed the socket file: the path may not become a folder of the container's.
    const stash = await rt.ref("p").request("stash", { path: socket }) as Record<string, unknown>;
    assert.equal(stash.ok, false, JSON.stringify(stash));
    assert.equal(stash.name, "NotCapable");
    assert.throws(() => Deno.statSync(socket), Deno.errors.NotFound, "nothing made there");
    assert.equal(await rt.ref("p").request("count"), 1, "the link still works");
  });
});

Deno.test("a process whose own grant covers the socket's folder keeps all of it once connected", async () => {
  const tmp = { ...member, permissions: { read: ["/tmp"], write: ["/tmp"] } };
  await withRuntime({ containers: { p: tmp } }, async (rt) => {
    const { dir, ask } = await probe(rt, "p");
    // Deno revokes a path with every granted folder above it: the process must not have.
    assert.equal(await ask({ name: "write", path: "/tmp/elsewhere" }), "granted");
    assert.equal(await ask({ name: "read", path: `${dir}/other` }), "granted");
  });
});

Deno.test("over a socket, bytes a container writes to stdout are logged, not taken for frames", async () => {
  const lines: string[] = [];
  await withRuntime({ containers: { p: member } }, async (rt) => {
    assert.equal(
      await rt.ref("p").request("printRaw", { text: "\u0000\u0000\u0000\u0005hello\n" }),
      "printed",
    );
    assert.equal(await rt.ref("p").request("count"), 1, "the same instance still serves");
    const deadline = Date.now() + 2000;
    while (!lines.some((l) => l.includes("hello")) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(lines.some((l) => l.includes("hello")), lines.join("\n"));
  }, { logLevel: "info", logger: (e) => lines.push(e.message) });
});

Deno.test("KRAKEN_PROCESS_LINK=stdio: process containers link over stdin/stdout instead, and work the same", async () => {
  const host = `
    import { Runtime } from ${JSON.stringify(new URL("../../mod.ts", import.meta.url).href)};
    const rt = await Runtime.start({ containers: { p: { module: "./member.ts", mode: "process" } } },
      { logLevel: "silent", baseUrl: ${JSON.stringify(FIXTURES.href)} });
    const pid = await rt.ref("p").request("pid");
    const args = Deno.readTextFileSync("/proc/" + pid + "/cmdline").split("\\0");
    console.log(JSON.stringify({ count: await rt.ref("p").request("count"), socket: args.some((a) => a.endsWith(".sock") && !a.startsWith("-")) }));
    await rt.shutdown();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", "-"],
    env: { KRAKEN_PROCESS_LINK: "stdio", NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = out.stdin.getWriter();
  await writer.write(new TextEncoder().encode(host));
  await writer.close();
  const result = await out.output();
  const text = new TextDecoder().decode(result.stdout).trim();
  assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
  assert.deepEqual(JSON.parse(text), { count: 1, socket: false });
});

Deno.test("only a connection proving the token gets the process link; others are closed", async () => {
  const pending = listenForProcess();
  const [path, token] = pending.args;
  try {
    const impostor = await Deno.connect({ transport: "unix", path });
    await impostor.write(new TextEncoder().encode("f".repeat(token.length)));
    assert.equal(await impostor.read(new Uint8Array(1)), null, "the impostor is closed");
    impostor.close();
    const real = await Deno.connect({ transport: "unix", path });
    await real.write(new TextEncoder().encode(token));
    await pending.connected;
    assert.throws(() => Deno.statSync(path), Deno.errors.NotFound, "socket file removed");
    pending.link.close();
    await pending.link.closed;
    assert.equal(await real.read(new Uint8Array(1)), null, "closing the link closes the socket");
    real.close();
  } finally {
    pending.abandon();
  }
});
