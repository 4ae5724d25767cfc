// What anyone who may write the lease's NATS buckets, or who holds the transport secret, cannot do
// to a root with a standby (real processes: `nats-server -js`, `kraken start` roots, a
// `kraken node` agent): a forged row of a far later term in the placement table does not stop
// the root taking over; thousands of junk rows do not stall its take-over; an impostor root with
// a lease of its own (its own server, a bucket of the same name, a later term) cannot adopt a
// live root's container.
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { NatsServer, natsTest } from "../nats/_nats_server.ts";
import { tableBucket } from "../../distribution/_leader.ts";
import { kvTableStore } from "../../distribution/_leadership_kv.ts";
import { parseRow } from "../../distribution/_placement_table.ts";
import { type AgentProcess, childrenOf, eventually, pause, startAgent } from "./_agents.ts";
import { placedFor, rootTopology, startRoot } from "./_roots.ts";

async function withSetup(
  fn: (s: {
    agent: AgentProcess;
    server: NatsServer;
    yaml: (natsPort: number) => Promise<string>;
  }) => Promise<void>,
) {
  const store = await Deno.makeTempDir({ prefix: "kraken_untrusted_" });
  const server = await NatsServer.start(["-js", "--store_dir", store]);
  const files: string[] = [];
  let agent: AgentProcess | null = null;
  try {
    agent = await startAgent("node-b");
    const yaml = async (natsPort: number) => {
      const file = await rootTopology(agent!.url, natsPort);
      files.push(file);
      return file;
    };
    await fn({ agent, server, yaml });
  } finally {
    await agent?.stop();
    for (const file of files) await Deno.remove(file).catch(() => {});
    await server.kill();
    await Deno.remove(store, { recursive: true });
  }
}

/** Writes rows into the placement table as any client allowed to write the bucket may. */
async function writeRows(url: string, rows: [string, unknown][]): Promise<void> {
  const nc = await connect({ servers: [url] });
  try {
    const table = await kvTableStore(nc, { bucket: tableBucket("dist_leader"), timeout: 5_000 });
    for (let i = 0; i < rows.length; i += 200) {
      await Promise.all(
        rows.slice(i, i + 200).map(async ([name, row]) => {
          const bytes = new TextEncoder().encode(JSON.stringify(row));
          const current = await table.read(name);
          await table.write(name, bytes, current?.revision ?? null);
        }),
      );
    }
  } finally {
    await nc.close();
  }
}

const alive = async (child: Deno.ChildProcess) =>
  await Promise.race([child.status.then(() => false), pause(50).then(() => true)]);

natsTest(
  "a forged placement-table row of a far later term does not stop the standby taking over: it leads on, adopts x in place, and overwrites the row",
  async () => {
    await withSetup(async ({ agent, server, yaml }) => {
      const file = await yaml(server.port);
      const a = startRoot(file, "root-a", false);
      let b: ReturnType<typeof startRoot> | null = null;
      try {
        await eventually(() => placedFor(agent, "root-a"), 20_000, "root-a placed x");
        b = startRoot(file, "root-b", true);
        await eventually(() => /standing by/.test(b!.text()), 20_000, "root-b stands by");
        const forged = { term: 2 ** 48, groups: [{ agent: "node-b", replicas: 1, epoch: 1 }] };
        await writeRows(server.url, [["x", forged], ["nope", { term: 2 ** 48, groups: [] }]]);
        const before = childrenOf(agent.pid);
        a.child.kill("SIGKILL");
        await eventually(() => placedFor(agent, "root-b"), 10_000, "root-b placed x");
        await pause(1_500);
        assert.ok(await alive(b.child), `root-b still runs:\n${b.text()}`);
        assert.doesNotMatch(b.text(), /stops acting/);
        assert.match(b.text(), /row "x" claims term 281474976710656, after this root's term \d+/);
        assert.deepEqual(childrenOf(agent.pid), before, "the same x process, never stopped");
        const nc = await connect({ servers: [server.url] });
        try {
          const table = await kvTableStore(nc, { bucket: tableBucket("dist_leader") });
          const row = parseRow((await table.read("x"))!.value)!;
          assert.ok(row.term < forged.term, `overwritten under root-b's term, got ${row.term}`);
        } finally {
          await nc.close();
        }
      } finally {
        await a.stop();
        await b?.stop();
      }
    });
  },
);

natsTest(
  "3,000 junk rows in the placement table neither stall the take-over nor end the new leader: x is adopted in place from its row",
  async () => {
    await withSetup(async ({ agent, server, yaml }) => {
      const file = await yaml(server.port);
      const a = startRoot(file, "root-a", false);
      let b: ReturnType<typeof startRoot> | null = null;
      try {
        await eventually(() => placedFor(agent, "root-a"), 20_000, "root-a placed x");
        b = startRoot(file, "root-b", true);
        await eventually(() => /standing by/.test(b!.text()), 20_000, "root-b stands by");
        const junk = { term: 1, groups: [{ agent: "node-b", replicas: 1, epoch: 1 }] };
        await writeRows(
          server.url,
          Array.from({ length: 3_000 }, (_, i): [string, unknown] => [`f${i}`, junk]),
        );
        const before = childrenOf(agent.pid);
        a.child.kill("SIGKILL");
        await eventually(() => placedFor(agent, "root-b"), 10_000, "root-b placed x");
        assert.ok(
          agent.log.some((l) => /adopted x \(epoch 2\) for runtime "root-b" from "root-a"/.test(l)),
          agent.log.join("\n"),
        );
        assert.match(b.text(), /x runs on "node-b" \(placement table, term \d+\)/);
        await pause(2_000);
        assert.ok(await alive(b.child), `root-b still runs:\n${b.text()}`);
        assert.deepEqual(childrenOf(agent.pid), before, "the same x process, never stopped");
      } finally {
        await a.stop();
        await b?.stop();
      }
    });
  },
);

natsTest(
  "an impostor root with the secret and a lease of its own (same app and bucket name, later term) is another lease group: it cannot adopt root-a's container, which keeps running for root-a",
  async () => {
    await withSetup(async ({ agent, server, yaml }) => {
      const store = await Deno.makeTempDir({ prefix: "kraken_impostor_" });
      const own = await NatsServer.start(["-js", "--store_dir", store]);
      const a = startRoot(await yaml(server.port), "root-a", false);
      let evil: ReturnType<typeof startRoot> | null = null;
      try {
        await eventually(() => placedFor(agent, "root-a"), 20_000, "root-a placed x");
        // The impostor's own bucket, its revisions pushed past root-a's term.
        const nc = await connect({ servers: [own.url] });
        const kv = await new Kvm(jetstream(nc)).create("dist_leader", { ttl: 1_000, history: 1 });
        for (let i = 0; i < 50; i++) await kv.put("pad", "x");
        await nc.close();
        const before = childrenOf(agent.pid);
        evil = startRoot(await yaml(own.port), "evil", false);
        let code: number | null = null;
        evil.child.status.then((s) => code = s.code);
        await eventually(() => code !== null, 20_000, "the impostor gave up");
        assert.equal(code, 1, `the impostor failed:\n${evil.text()}`);
        assert.match(
          evil.text(),
          /could not place x on agent "node-b": this agent already runs a container named "x" for runtime "root-a"/,
        );
        await pause(1_500);
        assert.ok(!agent.log.some((l) => /adopted x|stopping x/.test(l)), agent.log.join("\n"));
        assert.deepEqual(childrenOf(agent.pid), before, "the same x process");
        assert.ok(await alive(a.child), "root-a leads on");
      } finally {
        await a.stop();
        await evil?.stop();
        await own.kill();
        await Deno.remove(store, { recursive: true });
      }
    });
  },
);
