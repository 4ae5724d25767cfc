// The chat as a TCP socket program: `nc localhost 6667`, one line per message or command. Every
// replica accepts on the same port (the topology's `serve:`; the kernel spreads connections), and
// all of them share rooms through publish/subscribe and presence through `rooms`.
import { container } from "../../../container.ts";
import { ChatHub, hubOptions, type Peer } from "../hub.ts";

/** Bytes queued for a client that does not read; past this it is disconnected, not buffered. */
const MAX_QUEUED = 256 * 1024;
/** How long a closing connection may take to flush what was queued. */
const FLUSH_MS = 1000;

export default container((ctx) => {
  const hub = new ChatHub(ctx, hubOptions(ctx.config));
  return {
    /** One client connection, for as long as it lasts. */
    async accept(conn: Deno.TcpConn) {
      const peer = new TcpPeer(conn);
      const session = await hub.open(peer, "tcp");
      const buffer = new Uint8Array(16 * 1024);
      try {
        for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
          session.push(buffer.subarray(0, n));
        }
      } catch {
        // Reset by the client, or closed by us (quit, stop): either way the session ends.
      } finally {
        hub.closed(session);
        peer.close("bye");
      }
    },
    /** Users connected to this replica. */
    users() {
      return { instance: ctx.instance, users: hub.size };
    },
    /** For the demo (`kraken call chat crash`): fails this replica; its supervisor restarts it. */
    crash(): never {
      throw new Error(`${ctx.instance} crashed on purpose`);
    },
  };
});

/** Lines to one TCP client, written in order; a client that stops reading is cut off. */
class TcpPeer implements Peer {
  readonly #conn: Deno.TcpConn;
  readonly #encoder = new TextEncoder();
  #writing: Promise<void> = Promise.resolve();
  #queued = 0;
  #closed = false;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  send(line: string): void {
    if (this.#closed) return;
    const bytes = this.#encoder.encode(`${line}\r\n`);
    if (this.#queued + bytes.length > MAX_QUEUED) return this.#end();
    this.#queued += bytes.length;
    this.#writing = this.#writing.then(async () => {
      for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
      this.#queued -= bytes.length;
    }).catch(() => this.#end());
  }

  close(_why: "bye" | "going-away"): void {
    if (this.#closed) return;
    this.#closed = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, FLUSH_MS));
    Promise.race([this.#writing, late]).finally(() => {
      clearTimeout(timer);
      this.#end();
    });
  }

  #end(): void {
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}
