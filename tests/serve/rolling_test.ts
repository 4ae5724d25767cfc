// Rolling restart, reload and scale of a serving container under a steady HTTP load lose no
// request. Each case runs in a network namespace of its own with net.ipv4.tcp_migrate_req=1: when
// a replica closes its listener, the kernel hands the connections still queued on it (accepted by
// the kernel, not yet by the replica) to the other replicas instead of resetting them; without it
// no server on a shared port can drain losslessly (see docs/serving.md). Needs root and unshare;
// elsewhere the cases are skipped, and say so.
import assert from "node:assert/strict";
import { netnsWhyNot, runInNetns } from "../_netns.ts";

const SCENARIO = new URL("./fixtures/rolling_scenario.ts", import.meta.url).pathname;

const why = await netnsWhyNot();
if (why) {
  console.log(`rolling_test.ts: skipping (a network namespace with tcp_migrate_req: ${why})`);
}

interface Seen {
  ok: number;
  failures: string[];
  instances: string[];
  error: string | null;
  samePort: boolean;
  /** The most instances seen at once during the restart and the reload. */
  peaks: Record<string, number>;
}

function scenario(mode: string, replicas: number, keepAlive: boolean): Promise<Seen> {
  return runInNetns<Seen>(SCENARIO, {
    flags: ["--unstable-net"],
    args: [mode, String(replicas), keepAlive ? "on" : "off"],
    timeout: 60_000,
  });
}

const cases = [
  { mode: "worker", replicas: 2 },
  { mode: "process", replicas: 1 },
] as const;

for (const { mode, replicas } of cases) {
  for (const keepAlive of [false, true]) {
    Deno.test({
      name:
        `a ${replicas}-replica ${mode} serving container under load loses no request through restart, reload and scale, replacing one replica at a time (keep-alive ${
          keepAlive ? "on" : "off"
        })`,
      ignore: why !== null,
      fn: async () => {
        const seen = await scenario(mode, replicas, keepAlive);
        assert.equal(seen.error, null);
        assert.deepEqual(seen.failures, []);
        assert.ok(seen.ok >= 210, `${seen.ok} answers`);
        // Every generation answered: the first, the restarted, the replaced one.
        const incarnations = new Set(seen.instances.map((id) => id.split(".")[1]));
        for (const n of ["1", "2", "3"]) assert.ok(incarnations.has(n), seen.instances.join());
        assert.ok(seen.samePort, "port 0 was picked once and kept");
        // One replica at a time: never more than N + 1 instances, restart and reload alike.
        assert.deepEqual(seen.peaks, { restart: replicas + 1, reload: replicas + 1 });
      },
    });
  }
}
