// A network namespace of a test's own with net.ipv4.tcp_migrate_req=1: when a serving replica
// closes its listener, the kernel hands the connections still queued on it to the other replicas
// instead of resetting them; without it no server sharing a port drains losslessly
// (docs/serving.md). Needs root and unshare: elsewhere, `netnsWhyNot()` says why not, and the
// tests that need it are skipped and say so.

/** Why such a namespace cannot be had here, or null. */
export async function netnsWhyNot(): Promise<string | null> {
  try {
    const probe = await new Deno.Command("unshare", {
      args: ["-n", "sh", "-c", "echo 1 > /proc/sys/net/ipv4/tcp_migrate_req"],
      stdout: "null",
      stderr: "piped",
    }).output();
    return probe.success ? null : new TextDecoder().decode(probe.stderr).trim();
  } catch (error) {
    return String(error);
  }
}

/**
 * Runs `deno run -A --no-prompt FLAGS… SCRIPT ARGS…` in a fresh namespace (loopback up,
 * tcp_migrate_req on) and returns the last line it printed, parsed as JSON.
 * @throws {AssertionError} When it fails: its stderr.
 */
export async function runInNetns<T>(
  script: string,
  options: { flags?: string[]; args?: string[]; timeout: number },
): Promise<T> {
  const command = [
    "ip link set lo up",
    "echo 1 > /proc/sys/net/ipv4/tcp_migrate_req",
    `exec "$0" run -A --no-prompt ${
      [...options.flags ?? [], script, ...options.args ?? []].join(" ")
    }`,
  ].join(" && ");
  const out = await new Deno.Command("unshare", {
    args: ["-n", "sh", "-c", command, Deno.execPath()],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeout),
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "");
}

/** Runs `ip ARGS…`: whether it succeeded, and its stderr. */
export async function ip(...args: string[]): Promise<{ ok: boolean; err: string }> {
  try {
    const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
  } catch (error) {
    return { ok: false, err: (error as Error).message };
  }
}

/**
 * A named network namespace (`ip netns`) joined to this one by a veth pair: a host in its own
 * network, reached at {@linkcode VethNamespace.nsIp} from here and reaching this side at
 * {@linkcode VethNamespace.hostIp}. Taking the link down ({@linkcode VethNamespace.cut}) silences
 * it without closing a socket, as a cable pulled out would. Needs root and iproute2:
 * {@linkcode VethNamespace.whyNot} says why not elsewhere.
 */
export class VethNamespace {
  /** The namespace's name. */
  readonly name: string;
  /** The veth end on this side. */
  readonly hostIf: string;
  /** This side's address on the pair. */
  readonly hostIp: string;
  /** The namespace's address on the pair. */
  readonly nsIp: string;
  readonly #nsIf: string;

  private constructor(tag: string, subnet: number) {
    const id = Deno.pid % 10_000;
    this.name = `k${tag}${id}`;
    this.hostIf = `k${tag}h${id}`;
    this.#nsIf = `k${tag}n${id}`;
    // Per process and per test (`subnet`): tests of one run, or of two runs, do not share one.
    const net = `10.231.${(Deno.pid + subnet) % 250 + 1}`;
    this.hostIp = `${net}.1`;
    this.nsIp = `${net}.2`;
  }

  /** Why namespaces cannot be made here (not root, no `ip netns`), or null. */
  static async whyNot(): Promise<string | null> {
    const why = await netnsWhyNot();
    if (why) return why;
    const probe = `kprobe${Deno.pid % 10_000}`;
    const made = await ip("netns", "add", probe);
    if (!made.ok) return `ip netns add failed: ${made.err}`;
    await ip("netns", "del", probe);
    return null;
  }

  /**
   * Makes the namespace and its veth pair, both ends up (and its loopback).
   * @param tag A short name of the test (interface names hold at most 15 characters).
   * @param subnet A number of the test's own, so two tests of one run get distinct subnets.
   * @throws {Error} When a step fails (what was made is removed).
   */
  static async create(tag: string, subnet: number): Promise<VethNamespace> {
    const ns = new VethNamespace(tag, subnet);
    const steps = [
      ["netns", "add", ns.name],
      ["link", "add", ns.hostIf, "type", "veth", "peer", "name", ns.#nsIf],
      ["link", "set", ns.#nsIf, "netns", ns.name],
      ["addr", "add", `${ns.hostIp}/24`, "dev", ns.hostIf],
      ["link", "set", ns.hostIf, "up"],
      ["-n", ns.name, "addr", "add", `${ns.nsIp}/24`, "dev", ns.#nsIf],
      ["-n", ns.name, "link", "set", ns.#nsIf, "up"],
      ["-n", ns.name, "link", "set", "lo", "up"],
    ];
    for (const args of steps) {
      const r = await ip(...args);
      if (!r.ok) {
        await ns.remove();
        throw new Error(`ip ${args.join(" ")}: ${r.err}`);
      }
    }
    return ns;
  }

  /** The command prefix that runs a program inside the namespace. */
  get exec(): string[] {
    return ["ip", "netns", "exec", this.name];
  }

  /** Takes the link down: nothing passes, no socket is closed. */
  async cut(): Promise<void> {
    const r = await ip("link", "set", this.hostIf, "down");
    if (!r.ok) throw new Error(`ip link set ${this.hostIf} down: ${r.err}`);
  }

  /** Brings the link back up. */
  async restore(): Promise<void> {
    const r = await ip("link", "set", this.hostIf, "up");
    if (!r.ok) throw new Error(`ip link set ${this.hostIf} up: ${r.err}`);
  }

  /** Removes the pair and the namespace (whatever of them exists). */
  async remove(): Promise<void> {
    await ip("link", "del", this.hostIf);
    await ip("netns", "del", this.name);
  }
}
