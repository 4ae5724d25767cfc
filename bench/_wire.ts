// Raw byte channels the transports bench measures Kraken against: a Deno TCP or unix socket, a
// child process's stdin/stdout, and a WebSocket dialed with the npm `ws` client Kraken uses.

const ignore = () => {};

/** A byte channel: whole writes out, chunks (or WebSocket messages) in. */
export interface Wire {
  write(bytes: Uint8Array): void;
  onBytes: (chunk: Uint8Array) => void;
  close(): Promise<void>;
}

/** A TCP (TCP_NODELAY on) or unix socket to `address` (`tcp://host:port`, `unix:///path`). */
export async function socketWire(address: URL): Promise<Wire> {
  const conn = address.protocol === "tcp:"
    ? await Deno.connect({ hostname: address.hostname, port: Number(address.port) })
    : await Deno.connect({ transport: "unix", path: decodeURIComponent(address.pathname) });
  if (address.protocol === "tcp:") (conn as Deno.TcpConn).setNoDelay(true);
  const writer = conn.writable.getWriter();
  const wire: Wire = {
    write: (bytes) => void writer.write(bytes).catch(ignore),
    onBytes: ignore,
    async close() {
      await writer.close().catch(ignore);
      await reading;
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
  const reading = (async () => {
    try {
      for await (const chunk of conn.readable) wire.onBytes(chunk);
    } catch {
      // closed
    }
  })();
  return wire;
}

/** A child process's stdin/stdout (the channel process containers use), echoing frames. */
export function stdioWire(): Wire {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--no-lock",
      new URL("./raw_echo_process.ts", import.meta.url).pathname,
      "--batch",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const wire: Wire = {
    write: (bytes) => void writer.write(bytes).catch(ignore),
    onBytes: ignore,
    async close() {
      await writer.close().catch(ignore);
      await reading;
      await child.status;
    },
  };
  const reading = (async () => {
    for await (const chunk of child.stdout) wire.onBytes(chunk);
  })().catch(ignore);
  return wire;
}

/**
 * A raw WebSocket, dialed with the same client library as Kraken's ws:// transport (npm `ws`,
 * TCP_NODELAY on): Deno's built-in client stalls ~40 ms on pipelined 1-16 KiB messages (Nagle
 * against delayed ACKs), which would measure the platform's quirk, not the work.
 */
export async function webSocketWire(address: URL): Promise<Wire> {
  // @ts-types="@types/ws"
  const { default: WebSocketClient } = await import("ws");
  return new Promise((resolve, reject) => {
    const ws = new WebSocketClient(address.href, { perMessageDeflate: false });
    const closed = new Promise<void>((done) => ws.on("close", () => done()));
    const wire: Wire = {
      write: (bytes) => ws.send(bytes),
      onBytes: ignore,
      async close() {
        ws.close();
        await closed;
      },
    };
    ws.on("message", (data) => wire.onBytes(data as Uint8Array));
    ws.on("error", () => reject(new Error(`cannot open a WebSocket to ${address.href}`)));
    ws.on("open", () => resolve(wire));
  });
}
