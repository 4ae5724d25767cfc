// A second way in, besides writing files: jobs sent on a NATS subject. Each message is checked
// and written to incoming/ like a producer's file, and the reply (to a request) says so only once
// the file is there: from then on the job is as durable as any other, and a message lost before
// that is the sender's to send again (NATS core delivers at most once). Off unless kraken.yaml's
// dispatcher config names a subject.
import { enqueue } from "./folder_queue.ts";
import { parseJob } from "./jobs.ts";

/** The dispatcher's `nats:` config. */
export interface IntakeSettings {
  /** `host:port` of the NATS server (the dispatcher's `net` grant must name it). */
  address: string;
  /** The subject jobs arrive on; empty: no intake. */
  subject: string;
}

/** What a request on the subject is answered. */
export type IntakeReply = { queued: string } | { error: string; message: string };

/** A running intake: `close` stops taking messages (those already taken are written first). */
export interface Intake {
  close(): Promise<void>;
}

/**
 * Subscribes to `settings.subject` in queue group `daemon` (several dispatchers would share the
 * messages) and writes each job to `root`'s incoming/; `queued` is told of each.
 */
export async function startIntake(
  settings: IntakeSettings,
  root: URL,
  queued: (id: string) => void,
): Promise<Intake> {
  // Loaded only when the intake is on: a static npm import would slow every start of the worker.
  const { connect } = await import("@nats-io/transport-node");
  const nc = await connect({ servers: settings.address, name: "daemon-dispatcher" });
  const sub = nc.subscribe(settings.subject, { queue: "daemon" });
  const text = new TextDecoder();
  const encode = (reply: IntakeReply) => new TextEncoder().encode(JSON.stringify(reply));
  const taking = (async () => {
    for await (const msg of sub) {
      let reply: IntakeReply;
      try {
        const job = parseJob(JSON.parse(text.decode(msg.data)));
        await enqueue(root, job);
        queued(job.id);
        reply = { queued: `incoming/${job.id}.json` };
      } catch (error) {
        const e = error instanceof SyntaxError
          ? { name: "BadJob", message: error.message }
          : error as Error;
        reply = { error: e.name, message: e.message };
      }
      if (msg.reply) msg.respond(encode(reply));
    }
  })();
  return {
    async close() {
      await nc.drain(); // ends the subscription after the messages already received
      await taking;
    },
  };
}
