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
