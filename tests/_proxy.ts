// A TCP proxy a test can cut: every byte between a runtime and its peer (or its NATS server) goes
// through it, and `cut()` drops the connections in flight and refuses new ones until `restore()`.
// What was on its way when the cut came is lost, as on a real network failure.

/** A loopback TCP proxy to one target, with a switch. */
export class CuttableProxy {
  readonly #listener: Deno.TcpListener;
  readonly #target: { hostname: string; port: number };
  readonly #open = new Set<Deno.Conn>();
  readonly #pumps = new Set<Promise<unknown>>();
  #down = false;
  #accepting: Promise<void>;

  private constructor(listener: Deno.TcpListener, target: { hostname: string; port: number }) {
    this.#listener = listener;
    this.#target = target;
    this.#accepting = this.#accept();
  }

  /** Listens on a free loopback port and forwards to `target`. */
  static start(target: { hostname?: string; port: number }): CuttableProxy {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return new CuttableProxy(listener, { hostname: target.hostname ?? "127.0.0.1", ...target });
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Drops every open connection (both ends) and refuses new ones until {@linkcode restore}. */
  cut(): void {
    this.#down = true;
    for (const conn of this.#open) close(conn);
    this.#open.clear();
  }

  /** Accepts and forwards connections again. */
  restore(): void {
    this.#down = false;
  }

  /** Stops listening and drops everything. */
  async close(): Promise<void> {
    this.cut();
    this.#listener.close();
    await this.#accepting;
    await Promise.all(this.#pumps);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#down) {
          close(conn);
          continue;
        }
        this.#pump(conn);
      }
    } catch {
      // the listener was closed
    }
  }

  #pump(conn: Deno.Conn): void {
    const done = (async () => {
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect(this.#target);
      } catch {
        return close(conn);
      }
      if (this.#down) return close(conn), close(upstream);
      this.#open.add(conn).add(upstream);
      const end = () => {
        this.#open.delete(conn);
        this.#open.delete(upstream);
        close(conn);
        close(upstream);
      };
      await Promise.all([
        conn.readable.pipeTo(upstream.writable).catch(() => {}).finally(end),
        upstream.readable.pipeTo(conn.writable).catch(() => {}).finally(end),
      ]);
    })();
    this.#pumps.add(done);
    done.finally(() => this.#pumps.delete(done));
  }
}

function close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
