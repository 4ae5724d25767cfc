// Real nats-server processes for the NATS tests: one server or a 3-node cluster on free loopback
// ports, always killed by the test that started them. Where nats-server is not installed (a
// developer machine), the tests are skipped with a message; CI installs it (.ci/run).
import { FIXTURES, freePort } from "../_helpers.ts";

/** Where nats-server is, or null. */
export const NATS_SERVER: string | null = (() => {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      if (Deno.statSync(`${dir}/nats-server`).isFile) return `${dir}/nats-server`;
    } catch {
      // not there
    }
  }
  return null;
})();

if (!NATS_SERVER) {
  console.error(
    "nats-server is not on PATH: the NATS tests are skipped (apt-get install nats-server; CI does)",
  );
}

/**
 * A `Deno.test` that is skipped, saying why, where nats-server is missing — except in CI, which
 * installs it: there a missing server fails the test rather than hiding it.
 */
export function natsTest(name: string, fn: () => Promise<void>): void {
  const ci = Deno.env.get("CI") === "true";
  Deno.test({
    name,
    ignore: NATS_SERVER === null && !ci,
    fn: NATS_SERVER === null ? () => Promise.reject(new Error("CI has no nats-server")) : fn,
  });
}

/** A free TCP port on 127.0.0.1. */
export { freePort } from "../_helpers.ts";

/** One running nats-server. */
export class NatsServer {
  readonly port: number;
  readonly monitor: number;
  readonly #child: Deno.ChildProcess;
  #dead = false;

  private constructor(child: Deno.ChildProcess, port: number, monitor: number) {
    this.#child = child;
    this.port = port;
    this.monitor = monitor;
  }

  /** Its client URL. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port (extra `args`, e.g. `--user`), ready to accept clients. */
  static async start(args: string[] = [], port = freePort()): Promise<NatsServer> {
    const monitor = freePort();
    const child = new Deno.Command(NATS_SERVER!, {
      args: ["-a", "127.0.0.1", "-p", String(port), "-m", String(monitor), ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const server = new NatsServer(child, port, monitor);
    try {
      await server.#ready();
    } catch (error) {
      await server.kill();
      throw error;
    }
    return server;
  }

  /**
   * A 3-node cluster (one route URL list, one cluster name), every node ready; `extra(i)`: more
   * arguments for node `i` (e.g. `-js`, its own `--store_dir` and `--server_name`).
   */
  static async cluster(size = 3, extra: (i: number) => string[] = () => []): Promise<NatsServer[]> {
    const ports = Array.from({ length: size }, () => freePort());
    const routes = ports.map((p) => `nats://127.0.0.1:${p}`).join(",");
    const nodes: NatsServer[] = [];
    try {
      for (const [i, cport] of ports.entries()) {
        nodes.push(
          await NatsServer.start([
            "--cluster_name",
            "kraken-test",
            "--cluster",
            `nats://127.0.0.1:${cport}`,
            "--routes",
            routes,
            ...extra(i),
          ]),
        );
      }
      // Every node has a route to every other one before any client connects.
      const end = performance.now() + 10_000;
      for (const node of nodes) {
        while ((await node.#get("routez")).num_routes < size - 1) {
          if (performance.now() > end) throw new Error("the NATS cluster did not form");
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    } catch (error) {
      await Promise.all(nodes.map((n) => n.kill()));
      throw error;
    }
    return nodes;
  }

  /** Names of the clients connected to this node. */
  async clients(): Promise<string[]> {
    const connz = await this.#get("connz") as { connections?: { name?: string }[] };
    return (connz.connections ?? []).map((c) => c.name ?? "");
  }

  /** SIGKILL, and waits for the process to end (idempotent). */
  async kill(): Promise<void> {
    if (this.#dead) return;
    this.#dead = true;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#child.status;
  }

  // deno-lint-ignore no-explicit-any
  async #get(path: string): Promise<any> {
    const res = await fetch(`http://127.0.0.1:${this.monitor}/${path}`);
    return await res.json();
  }

  async #ready(): Promise<void> {
    const end = performance.now() + 10_000;
    while (true) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
        conn.close();
        await this.#get("varz");
        return;
      } catch {
        if (performance.now() > end) throw new Error(`nats-server did not start on ${this.port}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

/** A runtime in its own OS process (tests/fixtures/nats_runtime.ts), stopped by closing stdin. */
export class RuntimeProcess {
  readonly #child: Deno.ChildProcess;
  readonly pid: number;
  #dead = false;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
  }

  /**
   * Starts one and waits for its "ready" line.
   * @param config `{ name, servers, containers, keepalive?, user?, password? }` for the fixture.
   */
  static async start(config: Record<string, unknown>): Promise<RuntimeProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock",
        new URL("nats_runtime.ts", FIXTURES).pathname,
        JSON.stringify(config),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const rp = new RuntimeProcess(child);
    const reader = child.stdout.getReader();
    let text = "";
    // A process that neither says ready nor exits is killed: the read below then ends.
    let late = false;
    const deadline = setTimeout(() => {
      late = true;
      rp.kill();
    }, 30_000);
    try {
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done && late) throw new Error(`timed out after 30000 ms waiting for "ready": ${text}`);
        if (done) throw new Error(`the runtime process exited before it was ready: ${text}`);
        text += new TextDecoder().decode(value);
      }
      if (!text.startsWith("ready")) throw new Error(`the runtime process said: ${text}`);
    } catch (error) {
      reader.releaseLock();
      await rp.kill();
      throw error;
    } finally {
      clearTimeout(deadline);
    }
    reader.releaseLock();
    // Anything it prints later is read and dropped, so it never blocks on a full pipe.
    child.stdout.pipeTo(new WritableStream()).catch(() => {});
    return rp;
  }

  /** Graceful: closes its stdin, and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.#dead) return;
    this.#dead = true;
    await this.#child.stdin.close().catch(() => {});
    await this.#child.status;
  }

  /** SIGKILL, and waits (idempotent). */
  async kill(): Promise<void> {
    if (this.#dead) return;
    this.#dead = true;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#child.stdin.close().catch(() => {});
    await this.#child.status;
  }
}
