import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";

const base = new URL("./fixtures/", import.meta.url).href;

for (const mode of ["inline", "worker"] as const) {
  Deno.test(`a ${mode} WebSocket still open when its container stops is closed with 1001 within shutdown:`, async () => {
    const rt = await Runtime.start({
      containers: {
        ws: {
          module: "./ws_echo.ts",
          mode,
          shutdown: "300ms",
          serve: { port: 0, hostname: "127.0.0.1", websocket: true },
        },
      },
    }, { logLevel: "silent", baseUrl: base });
    try {
      const { port } = rt.serving("ws")!;
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
      const closed = new Promise<CloseEvent>((resolve) => (socket.onclose = resolve));
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = reject;
      });
      const echoed = new Promise<string>((resolve) => (socket.onmessage = (e) => resolve(e.data)));
      socket.send("hi");
      assert.equal(await echoed, "ws#0.1: hi");
      const t0 = performance.now();
      await rt.stop("ws");
      const event = await closed;
      assert.equal(event.code, 1001);
      assert.ok(performance.now() - t0 < 2_000);
    } finally {
      await rt.shutdown();
    }
  });
}

async function greeting(port: number): Promise<{ conn: Deno.TcpConn; instance: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buf = new Uint8Array(64);
  const n = await conn.read(buf);
  return { conn, instance: new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim() };
}

Deno.test("a TCP echo container serves one port from 2 worker replicas, and the kernel spreads connections", async () => {
  const rt = await Runtime.start({
    containers: {
      echo: {
        module: "./tcp_echo.ts",
        mode: "worker",
        replicas: 2,
        shutdown: "1s",
        serve: { port: 0, hostname: "127.0.0.1", protocol: "tcp" },
      },
    },
  }, { logLevel: "silent", baseUrl: base });
  const conns: Deno.TcpConn[] = [];
  try {
    const { port, protocol } = rt.serving("echo")!;
    assert.equal(protocol, "tcp");
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const { conn, instance } = await greeting(port);
      conns.push(conn);
      seen.add(instance);
    }
    assert.deepEqual([...seen].sort(), ["echo#0.1", "echo#1.1"]);
    const conn = conns[0];
    await conn.write(new TextEncoder().encode("ping"));
    const buf = new Uint8Array(16);
    const n = await conn.read(buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "ping");
    // Stopping ends the open connections: the handlers see ctx.signal.
    await rt.stop("echo");
    assert.equal(await conn.read(buf), null);
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // closed
      }
    }
    await rt.shutdown();
  }
});

Deno.test("a serving process replica killed with SIGKILL is restarted and serving resumes on the same port", async () => {
  const rt = await Runtime.start({
    containers: {
      api: { module: "./hello.ts", mode: "process", serve: { port: 0, hostname: "127.0.0.1" } },
    },
  }, { logLevel: "silent", baseUrl: base });
  try {
    const { port } = rt.serving("api")!;
    const first = await (await fetch(`http://127.0.0.1:${port}/`)).json();
    assert.equal(first.instance, "api#0.1");
    const pid = rt.tree().containers[0].instances[0].pid!;
    Deno.kill(pid, "SIGKILL");
    const end = performance.now() + 10_000;
    let answer: { instance?: string } = {};
    while (performance.now() < end) {
      try {
        answer = await (await fetch(`http://127.0.0.1:${port}/`)).json();
        if (answer.instance === "api#0.2") break;
      } catch {
        // restarting
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(answer.instance, "api#0.2");
    assert.equal(rt.serving("api")?.port, port);
  } finally {
    await rt.shutdown();
  }
});

Deno.test("a throw in accept closes that connection and is logged; the container goes on serving", async () => {
  const logs: string[] = [];
  const rt = await Runtime.start({
    containers: {
      tcp: {
        module: "./tcp_throws.ts",
        mode: "inline",
        serve: { port: 0, hostname: "127.0.0.1", protocol: "tcp" },
      },
    },
  }, { logLevel: "warn", logger: (e) => logs.push(e.message), baseUrl: base });
  try {
    const { port } = rt.serving("tcp")!;
    const talk = async (text: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode(text));
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      conn.close();
      return n === null ? null : new TextDecoder().decode(buf.subarray(0, n));
    };
    assert.equal(await talk("boom"), null);
    assert.equal(await talk("hi"), "tcp#0.1 hi");
    assert.equal(rt.tree().containers[0].restarts, 0);
    assert.ok(logs.some((l) => l.includes("accept threw: Error: boom in accept")), logs.join("\n"));
  } finally {
    await rt.shutdown();
  }
});
