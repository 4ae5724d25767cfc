// Sockets this process still holds, from /proc: what the transports bench reports as left open
// at its end (a link or a raw client that did not close its socket).

/** Inodes of the sockets this process holds (from /proc/self/fd). */
export function socketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      const match = Deno.readLinkSync(`/proc/self/fd/${entry.name}`).match(/^socket:\[(\d+)\]$/);
      if (match) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/**
 * The sockets opened since `before` and still open, described: TCP ones with their addresses,
 * unix ones with their peer. A unix socket whose peer is also held here is a socketpair (Deno
 * opens one for itself some time after start), not a connection.
 */
export async function socketsLeft(before: Set<string>): Promise<{ open: string[]; pairs: number }> {
  const added = [...socketInodes()].filter((i) => !before.has(i));
  if (added.length === 0) return { open: [], pairs: 0 };
  const tcp = new Map<string, string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of Deno.readTextFileSync(file).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9) tcp.set(f[9], `tcp ${f[1]} -> ${f[2]}`);
    }
  }
  const peers = new Map<string, string>();
  try {
    const out = await new Deno.Command("ss", { args: ["-xan"], stdout: "piped", stderr: "null" })
      .output();
    for (const line of new TextDecoder().decode(out.stdout).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 8) peers.set(f[5], f[7]);
    }
  } catch {
    // no ss: unix sockets are listed without their peer
  }
  const mine = new Set(socketInodes());
  const open: string[] = [];
  let pairs = 0;
  for (const inode of added) {
    if (tcp.has(inode)) open.push(`${tcp.get(inode)} (inode ${inode})`);
    else if (peers.has(inode) && mine.has(peers.get(inode)!)) pairs++;
    else open.push(`unix inode ${inode}, peer ${peers.get(inode) ?? "?"}`);
  }
  return { open, pairs };
}
