/**
 * `reusePort` through Node's TCP handle: `node:net` and `node:http` servers listen with
 * `listen({ reusePort: true })`, which Deno honours with `SO_REUSEPORT` even without its unstable
 * `net` feature, and `process.binding("tcp_wrap")` hands out the same handle. Its `bind`,
 * `bindWithFlags` and `bind6` take the flags; each is replaced (for good, on the prototype every
 * handle shares) by one that lets the guard check the address first.
 *
 * @module
 */

const { apply, defineProperty, getOwnPropertyDescriptor } = Reflect;
const Text = String;
const Num = Number;

/** libuv's `UV_TCP_REUSEPORT`, the flag Node's `listen({ reusePort: true })` passes to bind. */
const UV_TCP_REUSEPORT = 4;

/** What decides a `reusePort` bind: throws to refuse it. */
export type ReusePortCheck = (
  call: string,
  hostname: string,
  port: number,
  feature: boolean,
) => void;

/**
 * Makes every bind of Node's TCP handle with the `reusePort` flag ask `check` first, with the
 * address read once (as the call will use it). Does nothing where Deno has no such handle.
 *
 * @example
 * ```ts ignore
 * import { guardNodeReusePort } from "./_guard_net.ts";
 * guardNodeReusePort((call) => { throw new Deno.errors.NotCapable(`${call} is refused`); });
 * // node:net's server.listen({ port: 8080, reusePort: true }) now throws NotCapable
 * ```
 */
export function guardNodeReusePort(check: ReusePortCheck): void {
  const binding = (globalThis as { process?: { binding?: (name: string) => unknown } }).process
    ?.binding;
  if (typeof binding !== "function") return;
  let tcp: { TCP?: { prototype: object } } | undefined;
  try {
    tcp = apply(binding, (globalThis as { process?: unknown }).process, ["tcp_wrap"]) as typeof tcp;
  } catch {
    return;
  }
  const proto = tcp?.TCP?.prototype;
  if (!proto) return;
  for (const method of ["bind", "bindWithFlags", "bind6"]) {
    const original = getOwnPropertyDescriptor(proto, method)?.value;
    if (typeof original !== "function") continue;
    const guarded = function (this: unknown, address: unknown, port: unknown, flags: unknown) {
      const f = Num(flags ?? 0);
      if ((f & UV_TCP_REUSEPORT) === 0) return apply(original, this, [address, port, flags]);
      const host = Text(address);
      const at = Num(port);
      check(`node:net listen({ reusePort: true })`, host, at, false);
      return apply(original, this, [host, at, f]);
    };
    const ok = defineProperty(proto, method, {
      value: guarded,
      writable: false,
      configurable: false,
    });
    if (!ok) throw new TypeError(`the container guard could not replace TCP.prototype.${method}`);
  }
}
