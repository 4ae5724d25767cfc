// The bare baselines of bench/serve.ts, each a server subprocess (bench/_server_process.ts: it
// prints its port as its first stdout line and stops when its stdin ends):
//
//   http          Deno.serve on 0.0.0.0 answering every request with the bench JSON
//                 (bench/_serve_work.ts)
//   http-reuse P  the same on port P (0: any) with reusePort, so that several share it
//                 (needs --unstable-net)
//   http-worker   the same from inside a bare worker (bench/_serve_bare_worker.ts)
//   http-hop      Deno.serve in a worker answering with the lookup asked of a second worker over
//                 a MessageChannel (bench/_serve_bare_hop.ts, bench/_serve_bare_inventory.ts):
//                 Kraken's hop setup (two worker containers, their direct port) without Kraken
//   canned        a raw TCP loop writing one fixed HTTP response per request read: the ceiling
//                 of the load client itself (the server does almost nothing)
//   accept        a raw TCP accept loop closing every connection it accepts
//   ws            Deno.serve upgrading every request to a WebSocket and holding it, idle
//   http-conn     an accept loop serving each connection with Deno.serveHttp (what a serving
//                 container runs, without Kraken): the cost of the mechanism alone
//   http-conn-internal  the same with Deno's internal per-connection server
//                 (Deno[Deno.internal].serveHttpOnConnection, which ends a WebSocket at its upgrade;
//                 see tests/serve/platform_test.ts): what that path would give
import { lookup } from "./_serve_work.ts";

const [kind, portArg] = Deno.args;
const reusePort = kind === "http-reuse";
const port = Number(portArg ?? 0);
const hostname = "0.0.0.0";
const stop = new AbortController();
const said = (p: number) => console.log(String(p));

function serveHttp(): Promise<void> {
  const server = Deno.serve(
    { port, hostname, reusePort, signal: stop.signal, onListen: (a) => said(a.port) },
    () => Response.json(lookup("A-100")),
  );
  return server.finished;
}

/** Deno.serve in a bare worker, no Kraken. */
function serveInWorker(): Promise<void> {
  const server = new Worker(new URL("./_serve_bare_worker.ts", import.meta.url), {
    type: "module",
  });
  server.postMessage({ listen: port });
  server.onmessage = (event: MessageEvent<number>) => said(event.data);
  return new Promise((resolve) =>
    stop.signal.addEventListener("abort", () => {
      server.terminate();
      resolve();
    })
  );
}

/** Two workers: one serving (bench/_serve_bare_hop.ts), one answering it over a MessageChannel. */
function serveHop(): Promise<void> {
  const url = (file: string) => new URL(file, import.meta.url);
  const inventory = new Worker(url("./_serve_bare_inventory.ts"), { type: "module" });
  const server = new Worker(url("./_serve_bare_hop.ts"), { type: "module" });
  const channel = new MessageChannel();
  inventory.postMessage({ port: channel.port1 }, [channel.port1]);
  server.postMessage({ port: channel.port2, listen: port }, [channel.port2]);
  server.onmessage = (event: MessageEvent<number>) => said(event.data);
  return new Promise((resolve) =>
    stop.signal.addEventListener("abort", () => {
      server.terminate();
      inventory.terminate();
      resolve();
    })
  );
}

function serveWs(): Promise<void> {
  const sockets = new Set<WebSocket>();
  const server = Deno.serve(
    { port, hostname, signal: stop.signal, onListen: (a) => said(a.port) },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      sockets.add(socket);
      socket.onclose = () => sockets.delete(socket);
      return response;
    },
  );
  stop.signal.addEventListener("abort", () => {
    for (const socket of sockets) socket.close(1001, "going away");
  });
  return server.finished;
}

const RESPONSE = (() => {
  const body = JSON.stringify(lookup("A-100"));
  return new TextEncoder().encode(
    `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
})();

const repeats = new Map<number, Uint8Array>();
function repeated(n: number): Uint8Array {
  let bytes = repeats.get(n);
  if (!bytes) {
    bytes = new Uint8Array(RESPONSE.length * n);
    for (let i = 0; i < n; i++) bytes.set(RESPONSE, i * RESPONSE.length);
    repeats.set(n, bytes);
  }
  return bytes;
}

/** Answers each request (each blank line ending a head) with RESPONSE; no parsing beyond that. */
async function cannedConnection(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(16 * 1024);
  let tail = 0; // how many of "\r\n\r\n" the previous read ended with
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let answers = 0;
      for (let i = 0; i < n; i++) {
        const want = tail % 2 === 0 ? 13 : 10;
        tail = buf[i] === want ? tail + 1 : buf[i] === 13 ? 1 : 0;
        if (tail === 4) {
          answers++;
          tail = 0;
        }
      }
      if (answers === 1) await conn.write(RESPONSE);
      else if (answers > 1) await conn.write(repeated(answers));
    }
  } catch {
    // reset by the client at its end
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

type Conn = Deno.TcpConn;
/** One request on a connection served by `Deno.serveHttp` (untyped in Deno 2, kept at run time). */
type RequestEvent = { request: Request; respondWith(r: Response): Promise<void> };
type ServeHttp = (conn: Conn) => AsyncIterable<RequestEvent>;
type ServeOnConnection = (
  conn: Conn,
  signal: undefined,
  handler: (request: Request) => Response,
  onError: () => Response,
  onListen: () => void,
) => unknown;

/** Each accepted connection served by Deno.serveHttp, as runtime/_serve_http.ts does. */
function serveHttpConn(conn: Conn): void {
  conn.setNoDelay(true);
  const serveHttp = (Deno as unknown as { serveHttp: ServeHttp }).serveHttp;
  (async () => {
    try {
      for await (const event of serveHttp.call(Deno, conn)) {
        event.respondWith(Response.json(lookup("A-100"))).catch(() => {});
      }
    } catch {
      // the client went away
    }
  })();
}

/** Each accepted connection served by Deno's internal per-connection server. */
function serveInternalConn(): (conn: Conn) => void {
  const key = Object.getOwnPropertySymbols(Deno).find((s) => s.description === "Deno.internal");
  const internal = key ? (Deno as unknown as Record<symbol, Record<string, unknown>>)[key] : null;
  const serveOn = internal?.serveHttpOnConnection as ServeOnConnection | undefined;
  if (typeof serveOn !== "function") {
    throw new Error("no Deno[Deno.internal].serveHttpOnConnection");
  }
  return (conn) => {
    conn.setNoDelay(true);
    serveOn(
      conn,
      undefined,
      () => Response.json(lookup("A-100")),
      () => new Response(null, { status: 500 }),
      () => {},
    );
  };
}

async function listenLoop(each: (conn: Deno.TcpConn) => void): Promise<void> {
  const listener = Deno.listen({ port, hostname });
  said(listener.addr.port);
  stop.signal.addEventListener("abort", () => listener.close());
  try {
    for await (const conn of listener) each(conn);
  } catch {
    // closed at stop
  }
}

const served = kind === "http" || kind === "http-reuse"
  ? serveHttp()
  : kind === "http-worker"
  ? serveInWorker()
  : kind === "http-hop"
  ? serveHop()
  : kind === "ws"
  ? serveWs()
  : kind === "canned"
  ? listenLoop((conn) => void cannedConnection(conn))
  : kind === "accept"
  ? listenLoop((conn) => conn.close())
  : kind === "http-conn"
  ? listenLoop(serveHttpConn)
  : kind === "http-conn-internal"
  ? listenLoop(serveInternalConn())
  : Promise.reject(
    new Error(
      `unknown kind ${kind}: expected http, http-reuse, http-worker, http-hop, http-conn, ` +
        `http-conn-internal, canned, accept or ws`,
    ),
  );

// Stops when the bench closes our stdin.
for await (const _ of Deno.stdin.readable) {
  // nothing is sent on stdin
}
stop.abort();
await served;
