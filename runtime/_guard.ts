/**
 * The guard every worker and process container runs under: what its code may not do to the
 * process it shares, whatever its permissions.
 *
 * **Installed before any container code.** A container's entry is generated (see `_modes.ts`); its
 * first static import is a `data:` module that calls {@linkcode installGuard}. Static imports are
 * evaluated in order, each one's whole graph before the next, so the guard is in place before the
 * container's module (and anything it imports) runs. A worker's entry goes further: it imports the
 * container's modules with `import()` once the guard is complete, since the modules a static
 * import reaches are resolved before any code runs, and the guard decides what the container's
 * imports of `node:process` and `node:module` resolve to (`_guard_modules.ts`); what its parent
 * posts it meanwhile is kept until its module listens ({@linkcode releaseMessages}). What the guard
 * replaces is redefined non-writable and non-configurable, and the originals live only in this
 * module's closure: code that runs later can neither restore nor reach them.
 *
 * **In a worker** (the process is its host's, or its parent container's; these guards live in
 * `_guard_shared.ts`), a refused call throws `Deno.errors.NotCapable` naming the call and the
 * container:
 * - signals to the process itself: `Deno.kill`, `process.kill`, `process._kill` with `Deno.pid`
 *   (in a worker, the host's pid; Deno lets a process signal itself without `run`), with pid 0 or
 *   a negative pid (a process group, which holds the host), or with a pid that is not a positive
 *   32-bit whole number (the op truncates: 2**32 + pid would be pid);
 * - taking signals from the host: `Deno.addSignalListener` (and so `process.on("SIGINT")`) for any
 *   signal but SIGWINCH — a listener takes the default action away from the whole process, so
 *   SIGINT would no longer stop the host;
 * - raw mode on the terminal, which turns Ctrl-C into a byte instead of SIGINT: every method that
 *   reaches the op (`Deno.stdin.setRaw`, `Deno.FsFile.setRaw`, the native handle behind
 *   `node:tty`'s `ReadStream`, so `process.stdin.setRawMode` and `new tty.ReadStream(0)` too);
 * - ending or changing the process: `process.abort`, `Deno.chdir`, `process.chdir`,
 *   `Deno.umask(mask)`, `process.umask(mask)`,
 *   `process.setuid`/`setgid`/`seteuid`/`setegid`/`setgroups`/`initgroups` — and the named exports
 *   of `node:process` of the same names, which are other functions than these properties: the
 *   container's imports of `node:process` reach a copy exporting the guarded ones, and
 *   `registerHooks` of `node:module`, which could undo that, is refused (`_guard_modules.ts`). A
 *   worker's `sys: true` leaves out `umask` and `set*id` besides (`config/permissions.ts`), so
 *   Deno's own op refuses them too. (`process.title` is not configurable in Deno: a container can
 *   still rename the process);
 * - a new isolate outside the guard: `new Worker(…)` is allowed but starts from an entry that
 *   installs this guard first (same options); a `node:worker_threads` Worker is refused, since its
 *   isolate cannot be entered first (see `_guard_node.ts`).
 *
 * **In both modes**, the calls Deno answers by exiting the whole process (code 70) when an
 * unstable feature is off throw instead unless the container's `unstable:` lists the feature:
 * `reusePort` on `Deno.listen`/`Deno.listenTls`/`Deno.serve` (net) and a vsock transport on
 * `Deno.listen`/`Deno.connect`/`Deno.serve` (vsock).
 *
 * **`reusePort` joins whatever already listens on the port**, and the kernel hands a connection
 * to the most specific address: a container allowed it anywhere could listen on another
 * container's port (one its `net` grant reaches, say to call it) and take its clients. So a
 * serving container (`serve:`, which is why it has `net`) may listen with `reusePort` only on its
 * own `serve:` address (port 0 as resolved), by every route that reaches `SO_REUSEPORT`:
 * `Deno.listen`, `Deno.listenTls`, `Deno.serve` and the TCP handle behind `node:net` and
 * `node:http` (`listen({ reusePort: true })`, which Deno honours even without `--unstable-net`),
 * reached through `process.binding("tcp_wrap")` too. A container without `serve:` that lists
 * `net` itself asked for the feature: it may use `reusePort` wherever its `net` grant lets it
 * listen (but not through `node:net`, whose `reusePort` needs no unstable feature).
 *
 * Uncaught, a `NotCapable` stops the container (the built-in `on_error` rule); its supervisor
 * decides what follows. The host process goes on.
 *
 * @module
 */
import { guardNodeReusePort } from "./_guard_net.ts";

/** What a guard is installed with. */
export interface GuardOptions {
  /** The container, for messages. */
  container: string;
  /** `worker`: the process is shared with the host (or a parent); `process`: it is its own. */
  mode: "worker" | "process";
  /** The Deno unstable features the container's topology lists. */
  unstable: readonly string[];
  /**
   * The container's `serve:` address (port 0 resolved): the only place it may listen with
   * `reusePort`. Without it, `reusePort` needs `net` in `unstable` (and `node:net`'s is refused).
   */
  serve?: { hostname: string; port: number };
  /**
   * Whether the isolate's grant lets it listen on TCP at all (a `net` grant other than `unix:`
   * and `vsock:` items). `false` leaves Node's TCP handle unguarded: without such a grant Deno
   * refuses its bind whatever the flags (`--no-prompt`: no grant can be had later), and guarding
   * it would load Deno's Node layer (~20 ms of CPU) in every process container. Default `true`.
   */
  tcp?: boolean;
}

// Taken when this module is evaluated, before any container code: later tampering with these
// globals cannot reach the guard's own checks.
const { apply, construct, defineProperty, getOwnPropertyDescriptor } = Reflect;
const { assign, create, hasOwn, keys } = Object;
const toJson = JSON.stringify;
const encode = encodeURIComponent;
const NotCapable = Deno.errors.NotCapable;
const UrlClass = URL;
const Text = String;
const DenoNs = Deno;
const Message = globalThis.MessageEvent;
const listen = globalThis.addEventListener;
const unlisten = globalThis.removeEventListener;
const dispatch = globalThis.dispatchEvent;
const Num = Number;
const { indexOf, slice, toLowerCase: lowerCase } = String.prototype;

interface GuardState {
  container: string;
  worker: boolean;
  /** The unstable features allowed here: a null-prototype record (no inherited keys to forge). */
  allowed: Record<string, true>;
  /** Where `reusePort` is allowed (with `net`): `null` anywhere, else the only address. */
  reuseAt: Address | null;
  /** Whether the isolate may listen on TCP (see `GuardOptions.tcp`): its Node TCP handle is guarded. */
  tcp: boolean;
}

let state: GuardState | null = null;

/** The guards of a container that shares its process (`_guard_shared.ts`), handed in by the entry. */
export type SharedProcessGuard = (refuse: (call: string, why: string) => never) => void;

/**
 * Installs the guard in this isolate. The first call installs it; a later one (a nested
 * container's own entry, after the guard its parent's `new Worker` put first) may only narrow it:
 * fewer unstable features, `worker` instead of `process`, its own name in messages.
 *
 * A worker's entry also imports `_guard_shared.ts`, hands in its guards and awaits them
 * (`sharedProcessGuarded`); a process's does not, so a process container does not load
 * `node:process`, `node:module` and `node:worker_threads` just for them.
 *
 * @param options The container, its mode and its `unstable:` list.
 * @param shared The guards of a shared process; required with `mode: "worker"`.
 *
 * @example
 * ```ts ignore
 * import { installGuard } from "./_guard.ts";
 * import { guardSharedProcess } from "./_guard_shared.ts";
 * installGuard({ container: "api", mode: "worker", unstable: [] }, guardSharedProcess);
 * Deno.kill(Deno.pid, "SIGKILL"); // throws Deno.errors.NotCapable: the process is the host's
 * ```
 */
export function installGuard(options: GuardOptions, shared?: SharedProcessGuard): void {
  const worker = options.mode === "worker";
  if (worker && typeof shared !== "function") {
    throw new TypeError("a worker's guard needs the shared-process guards (_guard_shared.ts)");
  }
  const listed = create(null) as Record<string, true>;
  for (const feature of options.unstable) listed[Text(feature)] = true;
  const serve = options.serve;
  const reuseAt = serve ? addressOf(serve.hostname, serve.port) : null;
  const tcp = options.tcp !== false;
  if (state !== null) {
    for (const feature of keys(state.allowed)) {
      if (listed[feature] !== true) delete state.allowed[feature];
    }
    // Narrowing: one address and another leave none, so reusePort is refused altogether.
    if (state.reuseAt === null) state.reuseAt = reuseAt;
    else if (reuseAt !== null && reuseAt.key !== state.reuseAt.key) delete state.allowed.net;
    state.container = Text(options.container);
    // The handle stays guarded; a narrower grant only tells the workers it starts (optionsSource).
    if (!tcp) state.tcp = false;
    if (worker && !state.worker) {
      state.worker = true;
      shared!(refuse);
    }
    return;
  }
  holdMessages();
  state = { container: Text(options.container), worker, allowed: listed, reuseAt, tcp };
  guardUnstable();
  if (tcp) guardNodeReusePort(reusePortAt);
  guardWebWorkers();
  if (worker) shared!(refuse);
}

/**
 * Whether this isolate is a container's (its guard is installed): such an isolate runs container
 * code and never starts a runtime of its own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { guarded } from "./_guard.ts";
 * assert.equal(guarded(), false); // an application's own isolate
 * ```
 */
export function guarded(): boolean {
  return state !== null;
}

// ---- messages that arrive while a worker's entry loads ---------------------------------------

/** What arrived before the entry released it, and the listener that keeps it; null once released. */
let held: { events: MessageEvent[]; keep: (event: Event) => void } | null = null;

/**
 * In a worker, keeps every message it is sent until {@linkcode releaseMessages}. A message event
 * nobody listens to is lost, and a worker's entry awaits its guard and then the container's (or
 * the nested worker's) module before that module can listen: a message the parent posts at once
 * would arrive in between. (A static module graph is evaluated before the first message event.)
 * The listener goes first, so nothing registered later sees a message twice.
 */
function holdMessages(): void {
  if (held !== null || !("WorkerGlobalScope" in globalThis)) return;
  const events: MessageEvent[] = [];
  const keep = (event: Event) => {
    event.stopImmediatePropagation();
    events.push(event as MessageEvent);
  };
  held = { events, keep };
  apply(listen, globalThis, ["message", keep]);
}

/**
 * Hands the messages kept since the guard was installed to this worker's listeners, in order, and
 * stops keeping them. Each worker entry calls it once its module is evaluated (a container's,
 * after `bootWorker`); later calls do nothing.
 *
 * @example
 * ```ts ignore
 * import { releaseMessages } from "./_guard.ts";
 * await import("./module.ts");
 * releaseMessages(); // its onmessage now gets what the parent posted meanwhile
 * ```
 */
export function releaseMessages(): void {
  if (held === null) return;
  const { events, keep } = held;
  held = null;
  apply(unlisten, globalThis, ["message", keep]);
  // By index: container code has run by now, and may have replaced Array's iterator.
  for (let i = 0; i < events.length; i++) {
    const { data, ports } = events[i];
    apply(dispatch, globalThis, [new Message("message", { data, ports: ports as MessagePort[] })]);
  }
}

/** Throws the refusal of `call`. */
function refuse(call: string, why: string): never {
  const where = state
    ? `${state.worker ? "worker" : "process"} container "${state.container}"`
    : "";
  throw new NotCapable(`${call} is refused in ${where}: ${why}`);
}

/**
 * Replaces `key` of `target` for good (not writable, not configurable).
 *
 * @example
 * ```ts ignore
 * lock(Deno, "kill", guardedKill);
 * ```
 */
export function lock(target: object, key: PropertyKey, value: unknown): void {
  const before = getOwnPropertyDescriptor(target, key);
  const ok = defineProperty(target, key, {
    value,
    writable: false,
    configurable: false,
    enumerable: before?.enumerable ?? false,
  });
  if (!ok) throw new TypeError(`the container guard could not replace ${Text(key)}`);
}

// ---- Web Workers (both modes) ---------------------------------------------------------------

/**
 * `new Worker(url)` starts the worker from an entry whose first import installs this guard with
 * the same options; the original constructor stays unreachable (`Worker.prototype.constructor`
 * names the guarded one).
 */
function guardWebWorkers(): void {
  const Original = globalThis.Worker;
  if (typeof Original !== "function") return;
  const guardUrl = import.meta.url;
  const GuardedWorker = function Worker(
    this: unknown,
    specifier: string | URL,
    options?: WorkerOptions,
  ): Worker {
    if (new.target === undefined) {
      throw new TypeError("Failed to construct 'Worker': Please use the 'new' operator.");
    }
    const url = new UrlClass(Text(specifier), globalThis.location?.href).href;
    const install = installSource(guardUrl, optionsSource(), state!.worker);
    // Imported once the guard is complete (see the module doc); a literal `import()` is in the
    // worker's module graph from the start, so it needs no read grant either.
    const entry = `import ${toJson(`data:application/javascript,${encode(install)}`)};\n` +
      `import { releaseMessages } from ${toJson(guardUrl)};\n` +
      `await import(${toJson(url)});\nreleaseMessages();\n`;
    return construct(
      Original,
      [`data:application/javascript,${encode(entry)}`, options],
      new.target,
    );
  } as unknown as typeof Worker;
  defineProperty(GuardedWorker, "prototype", { value: Original.prototype, writable: false });
  lock(Original.prototype, "constructor", GuardedWorker);
  lock(globalThis, "Worker", GuardedWorker);
}

/**
 * The source of a `data:` module installing a guard with `options` (source text): the first
 * import of every container entry (`_modes.ts`) and of every worker a guarded isolate starts. A
 * worker's settles (top-level `await`) only once its guard is complete.
 *
 * @example
 * ```ts ignore
 * installSource(new URL("./_guard.ts", import.meta.url).href, '{"container":"a","mode":"worker","unstable":[]}', true);
 * ```
 */
export function installSource(guardUrl: string, options: string, worker: boolean): string {
  if (!worker) {
    return `import { installGuard } from ${toJson(guardUrl)};\ninstallGuard(${options});\n`;
  }
  const sharedUrl = new UrlClass("./_guard_shared.ts", guardUrl).href;
  return `import { installGuard } from ${toJson(guardUrl)};\n` +
    `import { guardSharedProcess, sharedProcessGuarded } from ${toJson(sharedUrl)};\n` +
    `installGuard(${options}, guardSharedProcess);\n` +
    `await sharedProcessGuarded();\n`;
}

/**
 * The current options as source text, built by hand: `JSON.stringify` of an object or array would
 * consult `toJSON`, which container code may have put on `Object.prototype` or `Array.prototype`
 * to hand a nested worker a wider list (a string's quoting consults nothing).
 */
function optionsSource(): string {
  const current = state!;
  const features = keys(current.allowed);
  let list = "";
  for (let i = 0; i < features.length; i++) list += `${i ? "," : ""}${toJson(features[i])}`;
  const at = current.reuseAt;
  const serve = at ? `,"serve":{"hostname":${toJson(at.hostname)},"port":${at.port}}` : "";
  // A worker's grant is within its parent's (Deno checks): without TCP here, none there either.
  const tcp = current.tcp ? "" : `,"tcp":false`;
  return `{"container":${toJson(current.container)},"mode":${
    toJson(current.worker ? "worker" : "process")
  },"unstable":[${list}]${serve}${tcp}}`;
}

// ---- calls that would exit the process (both modes) -----------------------------------------

/** A call needs `feature`: refused unless the container lists it. */
function needs(feature: string, call: string): void {
  if (state?.allowed[feature] === true) return;
  refuse(
    call,
    `it needs Deno's unstable "${feature}" feature, which the container does not list (without it Deno would end the whole process): add ${feature} to its unstable: in the topology${
      state?.worker
        ? ` (a worker shares its host's Deno flags, so the host is then checked for --unstable-${feature})`
        : ""
    }`,
  );
}

/**
 * The options a call will use, read once: a null-prototype copy of their own properties, checked
 * and then passed on, so a getter cannot answer the check one way and Deno another.
 */
function snapshot(options: unknown): Record<PropertyKey, unknown> | null {
  if (options === null || typeof options !== "object") return null;
  return assign(create(null), options);
}

/**
 * `host:port` as the guard compares addresses: the host lower-cased, without an IPv6 address's
 * brackets (then bracketed again, so the port stays apart). Only methods taken before container
 * code ran: it may have replaced `String.prototype`'s to make any address look like its own.
 */
function addressOf(hostname: string, port: number): Address {
  let host = apply(lowerCase, Text(hostname), []) as string;
  if (host[0] === "[" && host[host.length - 1] === "]") {
    host = apply(slice, host, [1, -1]) as string;
  }
  const v6 = apply(indexOf, host, [":"]) !== -1;
  return { hostname: host, port, key: `${v6 ? `[${host}]` : host}:${port}` };
}

/** An address `reusePort` may be used on: its parts, and `key` to compare. */
interface Address {
  hostname: string;
  port: number;
  key: string;
}

/**
 * A `reusePort` listener on `hostname:port` (primitives, read once): allowed only with `net`, and
 * then only on the container's own `serve:` address, or anywhere for a container without `serve:`
 * that listed `net` itself. `feature`: whether the route needs Deno's unstable `net` (node:net's
 * does not, so it is checked only against the list).
 */
function reusePortAt(call: string, hostname: string, port: number, feature = true): void {
  if (feature) needs("net", call);
  const at = addressOf(hostname, port).key;
  const own = state?.reuseAt?.key ?? null;
  if (state?.allowed.net === true && (own === null || own === at)) return;
  refuse(
    call,
    `reusePort on ${at} would join whatever listens there and take a share of its connections (the kernel prefers the more specific address); ${
      own === null
        ? "expected it only on the container's own serve: address, or with net in its unstable: list"
        : `this container may listen with reusePort only on its own serve: address, ${own}`
    }`,
  );
}

/** The hostname and port a listen call will use, read once (as primitives) into `o`. */
function fixAddress(
  o: Record<PropertyKey, unknown>,
  defaults: { hostname: string; port: number },
): { hostname: string; port: number } {
  const hostname = o.hostname === undefined ? defaults.hostname : Text(o.hostname);
  const port = o.port === undefined ? defaults.port : Num(o.port);
  o.hostname = hostname;
  o.port = port;
  return { hostname, port };
}

// What Deno.listen and Deno.serve listen on when the options leave it out.
const LISTEN_DEFAULTS = { hostname: "0.0.0.0", port: 0 };
const SERVE_DEFAULTS = { hostname: "0.0.0.0", port: 8000 };

function guardUnstable(): void {
  const reusePort = (o: Record<PropertyKey, unknown>) => !!o.reusePort;
  const checkReuse = (
    call: string,
    o: Record<PropertyKey, unknown>,
    defaults = LISTEN_DEFAULTS,
  ) => {
    const { hostname, port } = fixAddress(o, defaults);
    reusePortAt(call, hostname, port);
  };
  const listen = Deno.listen;
  lock(Deno, "listen", function listen_(options: unknown) {
    const o = snapshot(options);
    if (o) {
      const transport = o.transport ?? "tcp";
      if (transport === "vsock") needs("vsock", 'Deno.listen({ transport: "vsock" })');
      if (transport === "tcp" && reusePort(o)) checkReuse("Deno.listen({ reusePort: true })", o);
    }
    return apply(listen, DenoNs, [o ?? options]);
  });
  const listenTls = Deno.listenTls;
  lock(Deno, "listenTls", function listenTls_(options: unknown) {
    const o = snapshot(options);
    if (o && reusePort(o)) checkReuse("Deno.listenTls({ reusePort: true })", o);
    return apply(listenTls, DenoNs, [o ?? options]);
  });
  const connect = Deno.connect;
  lock(Deno, "connect", function connect_(options: unknown) {
    const o = snapshot(options);
    if (o?.transport === "vsock") needs("vsock", 'Deno.connect({ transport: "vsock" })');
    return apply(connect, DenoNs, [o ?? options]);
  });
  const serve = Deno.serve;
  lock(Deno, "serve", function serve_(first: unknown, second?: unknown) {
    // serve(handler), serve(options, handler) or serve({ handler, ...options }), as Deno reads it.
    const o = typeof first === "function" ? null : snapshot(first);
    if (o && !hasOwn(o, "path")) {
      if (hasOwn(o, "cid")) needs("vsock", "Deno.serve({ cid })");
      else if (o.tunnel !== true && reusePort(o)) {
        checkReuse("Deno.serve({ reusePort: true })", o, SERVE_DEFAULTS);
      }
    }
    return apply(serve, DenoNs, o ? [o, second] : [first, second]);
  });
}
