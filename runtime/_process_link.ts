/**
 * The link between the host and a process container: a unix socket by default, stdin/stdout as
 * the fallback.
 *
 * Measured on this machine kind (`deno task bench:transports`, section 6, raw batched echo to a
 * child process): a unix socket's round trip is ~0.6× a pipe pair's and it carries ~15% more
 * requests with 100 in flight, so it is the default. It costs the sandbox three flags scoped to
 * one path (`--allow-read`, `--allow-write` and `--allow-net=unix:` of the socket), in a folder
 * only this user can enter, which the process revokes as soon as it is connected; the host
 * accepts one connection that proves a one-time token, then removes the socket file. The host itself needs `--allow-write` of /tmp, and `--allow-read`,
 * `--allow-write` and an unscoped `--allow-net` to listen (Deno scopes a unix socket by its exact
 * path, new for each process). Where it may not (permissions are asked first, so nothing prompts
 * or throws), on Windows, or with `KRAKEN_PROCESS_LINK=stdio`, the link is stdin/stdout, which
 * needs no permission at all. Either way, the link's end is the host's death for the process.
 *
 * @module
 */
import type { Permissions } from "../config/permissions.ts";
import { StreamLink } from "../transports/stream_link.ts";

/** How long a process has to connect back, ms (module loading included). */
const CONNECT_TIMEOUT = 60_000;

let socketDir: { dir: string } | { why: string } | undefined;

/** Whether this process holds `descriptor`, asked without ever prompting. */
function holds(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/**
 * A folder for the sockets, private to this user, removed when the host exits; or why there is
 * none. Permissions are asked first: an operation without one would prompt on a terminal.
 */
function privateDir(): { dir: string } | { why: string } {
  if (socketDir !== undefined) return socketDir;
  if (!holds({ name: "write", path: "/tmp" })) {
    return socketDir = {
      why: "this host may not create its socket folder in /tmp (--allow-write)",
    };
  }
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
    socketDir = { dir };
  } catch (error) {
    socketDir = { why: `its socket folder could not be made: ${(error as Error).message}` };
  }
  return socketDir;
}

/** Whether `KRAKEN_PROCESS_LINK=stdio` chooses stdin/stdout (unreadable: the default). */
function stdioChosen(): boolean {
  if (!holds({ name: "env", variable: "KRAKEN_PROCESS_LINK" })) return false;
  return Deno.env.get("KRAKEN_PROCESS_LINK") === "stdio";
}

/** The flags this host lacks to listen on a unix socket at `path` (none: it may). */
function missingFlags(path: string): string[] {
  const missing: string[] = [];
  if (!holds({ name: "read", path })) missing.push("--allow-read");
  if (!holds({ name: "write", path })) missing.push("--allow-write");
  if (!holds({ name: "net", host: `unix:${path}` })) missing.push("--allow-net");
  return missing;
}

/**
 * The host's link to its next process: a socket listening for it, or stdin/stdout with why
 * (`fallback`: `null` when stdio was chosen — Windows, `KRAKEN_PROCESS_LINK=stdio` — and the
 * reason the socket could not be used otherwise). Never throws, never prompts.
 */
export function openProcessLink():
  | { socket: PendingProcessLink; fallback?: undefined }
  | { socket: null; fallback: string | null } {
  if (Deno.build.os === "windows" || stdioChosen()) return { socket: null, fallback: null };
  const dir = privateDir();
  if ("why" in dir) return { socket: null, fallback: dir.why };
  const path = socketPath(dir.dir);
  const missing = missingFlags(path);
  if (missing.length > 0) {
    const why = missing.includes("--allow-net")
      ? ` (Deno scopes net access to a unix socket by its exact path, new for each process, so ` +
        `only an unscoped --allow-net covers it)`
      : "";
    return { socket: null, fallback: `this host lacks ${missing.join(", ")} for it${why}` };
  }
  try {
    return { socket: listenAt(path) };
  } catch (error) {
    return { socket: null, fallback: `listening on ${path} failed: ${(error as Error).message}` };
  }
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

/** Listens for one process on a fresh socket in the private folder; throws when it cannot. */
export function listenForProcess(): PendingProcessLink {
  const dir = privateDir();
  if ("why" in dir) throw new Error(`no private folder for process sockets: ${dir.why}`);
  return listenAt(socketPath(dir.dir));
}

function socketPath(dir: string): string {
  return `${dir}/${crypto.randomUUID().slice(0, 13)}.sock`;
}

function listenAt(path: string): PendingProcessLink {
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
 * or uses stdin/stdout when it was started without them. Once connected, it gives up what the
 * host added to its grant for that (see {@linkcode forgetSocketGrant}).
 */
export async function connectToHost(args: readonly string[]): Promise<StreamLink> {
  const [path, token] = args;
  if (!path || !token) return new StreamLink(Deno.stdin.readable, Deno.stdout.writable);
  const conn = await Deno.connect({ transport: "unix", path });
  forgetSocketGrant(path);
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

/**
 * Revokes the read, write and net grant of the socket path, which the host added to this process's
 * grant only to connect: kept, it would outlive the socket (the host removes the file once the
 * token is proved), and the container could make a folder of its own there and keep what it likes
 * in it, even after the host is gone. Deno revokes a path together with every granted folder above
 * it, so read and write are revoked only when the process's own grant does not cover the socket's
 * folder (then it covers nothing there the host added). Throws nothing: a grant Deno will not
 * revoke stays, and the link works either way.
 *
 * @example
 * ```ts ignore
 * const conn = await Deno.connect({ transport: "unix", path });
 * forgetSocketGrant(path);
 * ```
 */
export function forgetSocketGrant(path: string): void {
  const folder = path.slice(0, path.lastIndexOf("/")) || "/";
  const revoke = (descriptor: Deno.PermissionDescriptor, unless?: Deno.PermissionDescriptor) => {
    try {
      if (!unless || Deno.permissions.querySync(unless).state !== "granted") {
        Deno.permissions.revokeSync(descriptor);
      }
    } catch {
      // not revocable here: the grant stays
    }
  };
  revoke({ name: "read", path }, { name: "read", path: folder });
  revoke({ name: "write", path }, { name: "write", path: folder });
  // A net revoke takes that socket only, never another host (and all of net stays all of net).
  revoke({ name: "net", host: `unix:${path}` });
}
