// A request keeps its trace across every link between runtimes (tcp, unix, ws, NATS) and to a
// host agent: a worker in runtime A asks a process in runtime B (or one that `kraken node` runs
// for A), and that process's span is the child of A's, in one trace.
import assert from "node:assert/strict";
import { freePort } from "../_helpers.ts";
import { OtlpReceiver, SPAN_KIND } from "../_otlp.ts";
import { NATS_SERVER, NatsServer } from "../nats/_nats_server.ts";
import { waitUntil } from "../_wait.ts";

const DRIVER = new URL("../fixtures/traces/federated.ts", import.meta.url).pathname;

Deno.test("a request from a worker in one runtime to a process in another is one trace over tcp, unix, ws and NATS links, and to a process on a host agent; so is a send", async () => {
  const otlp = freePort();
  const receiver = new OtlpReceiver(otlp);
  const server = NATS_SERVER ? await NatsServer.start() : null;
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", DRIVER, ...(server ? [server.url] : [])],
      env: OtlpReceiver.env(otlp),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const { ids, agentLog } = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      ids: Record<string, string>;
      agentLog: { source: string; trace?: string } | null;
    };
    // What the placed container logged on its agent reaches the root with its trace id.
    assert.match(String(agentLog?.source), /^back#0\.1@agent-b$/, JSON.stringify(agentLog));
    assert.equal(agentLog?.trace, ids.agent);
    const links = ["tcp", "unix", "ws", ...(server ? ["nats"] : []), "agent"];
    assert.deepEqual(Object.keys(ids), links);
    const of = (link: string) => receiver.spans.filter((s) => s.traceId === ids[link]);
    // The driver exported everything before it exited; the receiver may still be parsing.
    await waitUntil(
      () => links.every((link) => of(link).length >= 10),
      10_000,
      `10 spans per link; got ${JSON.stringify(receiver.spans)}`,
    );
    for (const link of links) {
      const spans = of(link);
      const one = (name: string, kind: number) => {
        const found = spans.filter((s) => s.name === name && s.kind === kind);
        assert.equal(found.length, 1, `${link}: one ${name} (${kind}) in ${JSON.stringify(spans)}`);
        return found[0];
      };
      const root = spans.find((s) => s.name === link)!;
      const toFront = one("front ask", SPAN_KIND.client);
      const front = one("front ask", SPAN_KIND.server);
      const toBack = one("back whoami", SPAN_KIND.client);
      const back = one("back whoami", SPAN_KIND.server);
      assert.equal(toFront.parentSpanId, root.spanId, link);
      assert.equal(front.parentSpanId, toFront.spanId, link);
      assert.equal(toBack.parentSpanId, front.spanId, link);
      assert.equal(back.parentSpanId, toBack.spanId, `${link}: across the link to runtime b`);
      assert.match(String(back.attributes["kraken.node"]), /^p\d+$/, link);
      // The send that followed: a producer span in A's worker, a consumer span in B's process.
      const toNote = one("back note", SPAN_KIND.producer);
      const note = one("back note", SPAN_KIND.consumer);
      assert.equal(toNote.parentSpanId, one("front tell", SPAN_KIND.server).spanId, link);
      assert.equal(note.parentSpanId, toNote.spanId, `${link}: a send across the link`);
    }
  } finally {
    await server?.kill();
    await receiver.close();
  }
});
