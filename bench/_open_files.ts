// The open-files limit the idle-WebSocket figure needs: each of its processes (server and client)
// holds one descriptor per connection. Deno raises its own soft limit to the hard one at start
// (checked with Deno 2.9.6 under `ulimit -Sn 1024`), so the hard limit is what caps the figure:
// raising it takes `ulimit -Hn` as root before the bench starts.

/** This process's soft and hard limits on open files (from /proc/self/limits). */
export function openFilesLimits(): { soft: number; hard: number } {
  const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
    .find((l) => l.startsWith("Max open files")) ?? "";
  const [soft, hard] = line.slice("Max open files".length).trim().split(/\s+/);
  const n = (v: string | undefined) => v === "unlimited" ? Infinity : Number(v);
  return { soft: n(soft), hard: n(hard) };
}
