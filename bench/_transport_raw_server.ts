// Raw side of the transports benchmark: echoes length-prefixed msgpack frames (the repo's own
// codec and framing, no envelope, no authentication) over a plain Deno TCP socket, unix socket or
// WebSocket (Deno.serve + Deno.upgradeWebSocket, each binary message carrying frame-stream bytes).
//
//   _transport_raw_server.ts <tcp://host:port | unix:///path | ws://host:port/path> [--batch]
//
// Without --batch every echo leaves in its own write (its own WebSocket message); with --batch the
// echoes of all frames read in one chunk (one message) leave in one write. Prints where it listens
// (one line), serves until its stdin closes, then exits.
import { FrameDecoder } from "../protocol/framing.ts";
import { decodeMsgpack, MsgpackEncoder } from "../protocol/msgpack.ts";
import { concat } from "./_concat.ts";

const url = new URL(Deno.args[0]);
const batch = Deno.args.includes("--batch");
const ignore = () => {};

/** Echoes every frame of `chunk`; `write` takes one byte array per call. */
function echoer(write: (bytes: Uint8Array) => void): (chunk: Uint8Array) => void {
  const encoder = new MsgpackEncoder();
  const decoder = new FrameDecoder();
  return (chunk) => {
    const frames = decoder.push(chunk);
    if (!batch) {
      for (const frame of frames) write(encoder.encodeFrame(decodeMsgpack(frame)));
      return;
    }
    if (frames.length === 0) return;
    const out: Uint8Array[] = new Array(frames.length);
    for (let i = 0; i < frames.length; i++) out[i] = encoder.encodeFrame(decodeMsgpack(frames[i]));
    write(concat(out));
  };
}

async function serveConn(conn: Deno.Conn): Promise<void> {
  if (conn.remoteAddr.transport === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
  const writer = conn.writable.getWriter();
  const echo = echoer((bytes) => void writer.write(bytes).catch(ignore));
  try {
    for await (const chunk of conn.readable) echo(chunk);
  } catch {
    // the client went away
  }
  await writer.close().catch(ignore);
}

let close: () => Promise<void>;
if (url.protocol === "tcp:" || url.protocol === "unix:") {
  const listener = url.protocol === "tcp:"
    ? Deno.listen({ hostname: url.hostname, port: Number(url.port || 0) })
    : Deno.listen({ transport: "unix", path: decodeURIComponent(url.pathname) });
  const conns = new Set<Deno.Conn>();
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      serveConn(conn).finally(() => conns.delete(conn));
    }
  })().catch(ignore);
  if (url.protocol === "tcp:") {
    const addr = listener.addr as Deno.NetAddr;
    console.log(`tcp://${addr.hostname}:${addr.port}`);
  } else console.log(url.href);
  close = async () => {
    listener.close();
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await accepting;
  };
} else if (url.protocol === "ws:") {
  const path = url.pathname || "/";
  const sockets = new Set<WebSocket>();
  const ready = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: url.hostname,
    port: Number(url.port || 0),
    onListen: (addr) => ready.resolve(addr as Deno.NetAddr),
  }, (req) => {
    if (new URL(req.url).pathname !== path) return new Response("not found", { status: 404 });
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    const echo = echoer((bytes) => socket.send(bytes as Uint8Array<ArrayBuffer>));
    socket.onopen = () => sockets.add(socket);
    socket.onmessage = (event) => {
      if (typeof event.data === "string") return socket.close();
      echo(new Uint8Array(event.data as ArrayBuffer));
    };
    socket.onclose = () => sockets.delete(socket);
    return response;
  });
  const addr = await ready.promise;
  const real = new URL(url.href);
  real.port = String(addr.port);
  console.log(real.href);
  close = async () => {
    for (const socket of sockets) socket.close();
    await server.shutdown();
  };
} else throw new Error(`unsupported URL ${url.href}`);

for await (const _ of Deno.stdin.readable) {
  // nothing is expected on stdin; its end is the signal to stop
}
await close();
Deno.exit(0);
