// The chat in a browser: a small page at `/` and a WebSocket at `/ws` carrying the same line
// protocol as the TCP program, into the same rooms (publish/subscribe) and the same presence.
import { container } from "../../../container.ts";
import { ChatHub, hubOptions, type Peer } from "../hub.ts";
import { MAX_LINE_BYTES } from "../lines.ts";

const PUBLIC = new URL("../public/", import.meta.url);
const FILES: Record<string, string> = {
  "/": "index.html",
  "/app.js": "app.js",
  "/style.css": "style.css",
};
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};
/** The page runs only its own script and talks only to its own origin. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'";
/** Bytes a socket may have unsent before its client counts as gone. */
const MAX_BUFFERED = 256 * 1024;

export default container(async (ctx) => {
  const hub = new ChatHub(ctx, hubOptions(ctx.config));
  const files = new Map<string, { body: string; type: string }>();
  for (const [path, name] of Object.entries(FILES)) {
    const body = await Deno.readTextFile(new URL(name, PUBLIC));
    files.set(path, { body, type: TYPES[name.split(".").pop()!] });
  }
  return {
    fetch(request: Request): Response {
      const url = new URL(request.url);
      if (url.pathname === "/ws") return upgrade(request);
      const file = files.get(url.pathname);
      if (request.method !== "GET" || file === undefined) {
        return new Response("not found\n", { status: 404 });
      }
      return new Response(file.body, {
        headers: { "content-type": file.type, "content-security-policy": CSP },
      });
    },
    /** Users connected to this replica. */
    users() {
      return { instance: ctx.instance, users: hub.size };
    },
  };

  function upgrade(request: Request): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade\n", { status: 426 });
    }
    // A page from another site must not chat in the user's name (cross-site WebSocket).
    const origin = request.headers.get("origin");
    const host = request.headers.get("host");
    if (origin !== null && (!URL.canParse(origin) || new URL(origin).host !== host)) {
      return new Response("cross-origin WebSocket refused\n", { status: 403 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    const peer = new SocketPeer(socket);
    const opened = new Promise<void>((resolve) => socket.addEventListener("open", () => resolve()));
    const session = opened.then(() => hub.open(peer, "websocket"));
    socket.addEventListener("message", async (event) => {
      const s = await session;
      if (typeof event.data !== "string") return s.refuse(0);
      // Deno has already read the whole message; the bound keeps it out of the rooms.
      const size = new TextEncoder().encode(event.data).length;
      if (size > MAX_LINE_BYTES) s.refuse(size);
      else s.line(event.data);
    });
    socket.addEventListener("close", async () => hub.closed(await session));
    return response;
  }
});

/** Lines to one browser. */
class SocketPeer implements Peer {
  readonly #socket: WebSocket;

  constructor(socket: WebSocket) {
    this.#socket = socket;
  }

  send(line: string): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    if (this.#socket.bufferedAmount > MAX_BUFFERED) return this.close("going-away");
    this.#socket.send(line);
  }

  close(why: "bye" | "going-away"): void {
    if (this.#socket.readyState > WebSocket.OPEN) return;
    if (why === "bye") this.#socket.close(1000, "bye");
    else this.#socket.close(1001, "going away");
  }
}
