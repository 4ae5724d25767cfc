// Top self-time functions of a V8 .cpuprofile (as `deno run --cpu-prof` writes it).
//   deno run -A bench/_profile_top.ts FILE.cpuprofile [N]
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

const [file, n = "25"] = Deno.args;
const profile = JSON.parse(await Deno.readTextFile(file)) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<string, number>();
for (const id of profile.samples) {
  const f = byId.get(id)!.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\/(perfa|main)\//, "")}:${f.lineNumber + 1}` : "";
  const key = `${f.functionName || "(anonymous)"} ${where}`;
  self.set(key, (self.get(key) ?? 0) + 1);
}
const total = profile.samples.length;
const idle = [...self].filter(([k]) => k.startsWith("(idle)")).reduce((a, [, v]) => a + v, 0);
console.log(`${total} samples, ${(100 * idle / total).toFixed(1)}% idle`);
for (const [key, count] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
  console.log(`${(100 * count / total).toFixed(1).padStart(5)}%  ${key}`);
}

// With a third argument (a file name part, e.g. `_node.ts`), the hottest lines in that file.
const lineFilter = Deno.args[2];
if (lineFilter) {
  const lines = new Map<string, number>();
  for (
    const node of profile
      .nodes as (ProfileNode & { positionTicks?: { line: number; ticks: number }[] })[]
  ) {
    if (!node.callFrame.url.includes(lineFilter)) continue;
    for (const t of node.positionTicks ?? []) {
      const key = `${node.callFrame.functionName || "(anonymous)"}:${t.line}`;
      lines.set(key, (lines.get(key) ?? 0) + t.ticks);
    }
  }
  console.log(`\nhottest lines in ${lineFilter}:`);
  for (const [key, ticks] of [...lines].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    console.log(`${String(ticks).padStart(6)}  ${key}`);
  }
}
