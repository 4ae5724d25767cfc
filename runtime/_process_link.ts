/**
 * The link between the host and a process container: a unix socket by default, stdin/stdout as
 * the fallback.
 *
 * Measured on this machine kind (`deno task bench:transports`, section 6, raw batched echo to a
 * child process): a unix socket's round trip is ~0.6× a pipe pair's and it carries ~15% more
 * requests with 100 in flight, so it is the default. It costs the sandbox three flags scoped to
 * one path (`--allow-read`, `--allow-write` and `--allow-net=unix:` of the socket), in a folder
 * only this user can enter; the host accepts one connection that proves a one-time token, then
 * removes the socket file. Where the host may not listen on a unix socket (a host without those
 * permissions, or Windows) or `KRAKEN_PROCESS_LINK=stdio` is set, the link is stdin/stdout, which
 * needs no permission at all. Either way, the link's end is the host's death for the process.
 *
 * @module
 */
import type { Permissions } from "../config/permissions.ts";
import { StreamLink } from "../transports/stream_link.ts";

/** Which channel process containers use. */
export type ProcessChannel = "unix" | "stdio";

/** How long a process has to connect back, ms (module loading included). */
const CONNECT_TIMEOUT = 60_000;

let socketDir: string | null | undefined;

/** A folder for the sockets, private to this user, removed when the host exits; `null` if none. */
function privateDir(): string | null {
  if (socketDir !== undefined) return socketDir;
  try {
    // Short: a socket path must fit in 107 bytes.
    const dir = Deno.makeTempDirSync({ dir: "/tmp", prefix: "kraken-" });
    Deno.chmodSync(dir, 0o700);
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // gone already
      }
    });
    socketDir = dir;
  } catch {
    socketDir = null;
  }
  return socketDir;
}

/** The channel to use for the next process: unix when this host may listen on one. */
export function processChannel(): ProcessChannel {
  if (Deno.build.os === "windows") return "stdio";
  try {
    if (Deno.env.get("KRAKEN_PROCESS_LINK") === "stdio") return "stdio";
  } catch {
    // no env permission: the default
  }
  return privateDir() === null ? "stdio" : "unix";
}

/** The host's side of a unix-socket process link, before the process has connected. */
export interface PendingProcessLink {
  /** The link; what is sent before the process connects waits in it. */
  readonly link: StreamLink;
  /** Arguments for the process's entry: the socket path and the token. */
  readonly args: string[];
  /** The process's grant plus exactly what it needs to connect back. */
  grant(permissions: Permissions): Permissions;
  /** Resolves once the process has connected and proved the token; rejects after the timeout. */
  readonly connected: Promise<void>;
  /** Stops waiting (the process died first) and removes the socket. */
  abandon(): void;
}

/** Listens for one process on a fresh socket in the private folder. */
export function listenForProcess(): PendingProcessLink {
  const dir = privateDir();
  if (dir === null) throw new Error("no private folder for process sockets");
  const path = `${dir}/${crypto.randomUUID().slice(0, 13)}.sock`;
  const token = Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const listener = Deno.listen({ transport: "unix", path });
  const link = new StreamLink(null, null);
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    try {
      listener.close();
    } catch {
      // closed
    }
    try {
      Deno.removeSync(path);
    } catch {
      // gone
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let giveUp: (error: Error) => void = () => {};
  const connected = new Promise<void>((resolve, reject) => {
    giveUp = reject; // a settled promise ignores it
    timer = setTimeout(() => {
      finish();
      reject(new Error(`the process did not connect back within ${CONNECT_TIMEOUT} ms`));
    }, CONNECT_TIMEOUT);
    (async () => {
      for await (const conn of listener) {
        if (await proves(conn, token)) {
          clearTimeout(timer);
          finish();
          link.attach(conn.readable, conn.writable);
          link.closed.then(() => {
            try {
              conn.close();
            } catch {
              // closed
            }
          });
          return resolve();
        }
        try {
          conn.close();
        } catch {
          // closed
        }
      }
    })().catch(() => {
      // the listener closed: abandoned or timed out
    });
  });
  connected.catch(() => {}); // the caller may never ask
  return {
    link,
    args: [path, token],
    grant: (p) => ({
      ...p,
      read: p.read === true ? true : [...(p.read ?? []), path],
      write: p.write === true ? true : [...(p.write ?? []), path],
      net: p.net === true ? true : [...(p.net ?? []), `unix:${path}`],
    }),
    connected,
    abandon() {
      clearTimeout(timer);
      finish();
      giveUp(new Error("the process ended before it connected back"));
    },
  };
}

/** Whether the first bytes on `conn` are `token` (read within 5 s, nothing else consumed). */
async function proves(conn: Deno.Conn, token: string): Promise<boolean> {
  const want = new TextEncoder().encode(token);
  const got = new Uint8Array(want.length);
  let filled = 0;
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // closed
    }
  }, 5_000);
  try {
    while (filled < got.length) {
      const n = await conn.read(got.subarray(filled));
      if (n === null) return false;
      filled += n;
    }
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff |= want[i] ^ got[i];
  return diff === 0;
}

/**
 * The process's side: connects back over the socket named in its arguments and proves the token,
 * or uses stdin/stdout when it was started without them.
 */
export async function connectToHost(args: readonly string[]): Promise<StreamLink> {
  const [path, token] = args;
  if (!path || !token) return new StreamLink(Deno.stdin.readable, Deno.stdout.writable);
  const conn = await Deno.connect({ transport: "unix", path });
  await conn.write(new TextEncoder().encode(token));
  const link = new StreamLink(conn.readable, conn.writable);
  link.closed.then(() => {
    try {
      conn.close();
    } catch {
      // closed
    }
  });
  return link;
}
