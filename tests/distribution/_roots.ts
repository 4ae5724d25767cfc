// Root runtimes for the standby tests and bench: `kraken start` of a topology with a
// `leadership:` block as a real OS process, and what its agent logged of it.
import assert from "node:assert/strict";
import { type AgentProcess, FIXTURES_DIR, SECRET } from "./_agents.ts";

export const CLI = new URL("../../cli/main.ts", import.meta.url).pathname;
/** The lease TTL of these topologies, ms. */
export const TTL = 1_000;

/**
 * A `kraken start` of `file` as root `name`, its stderr collected; `prefix` before the command
 * (e.g. `ip netns exec ns1`), `env` besides `ROOT_NAME`, `extra` more flags; its stdout too.
 */
export function startRoot(
  file: string,
  name: string,
  standby: boolean,
  options: { prefix?: string[]; env?: Record<string, string>; extra?: string[] } = {},
) {
  const args = [
    "run",
    "-A",
    "--no-lock",
    CLI,
    "start",
    file,
    ...(standby ? ["--standby"] : []),
    ...(options.extra ?? []),
  ];
  const [cmd, ...pre] = options.prefix ?? [];
  const child = new Deno.Command(cmd ?? Deno.execPath(), {
    args: cmd === undefined ? args : [...pre, Deno.execPath(), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ROOT_NAME: name, ...options.env },
  }).spawn();
  const log: string[] = [];
  const out: string[] = [];
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log.push(chunk);
  })().catch(() => {});
  (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) out.push(chunk);
  })().catch(() => {});
  return {
    child,
    log,
    text: () => log.join(""),
    /** What it printed on stdout (what `kraken start` tells its user). */
    printed: () => out.join(""),
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone already
      }
      await child.status;
    },
  };
}

/**
 * Writes a topology of remote container `x` on agent `agentUrl`, its lease on the NATS server at
 * `natsPort`, beside the fixtures (the agent runs ./member.ts from its --root, the fixtures
 * folder); the caller removes the file. Each root's name comes from `ROOT_NAME`. With `perRoot`,
 * the agent's address and the NATS server's URL come from each root's `AGENT_URL` and `NATS_URL`
 * (roots in different networks reach them at different addresses). `caller`: y on the agent calls
 * x (or `callerTo`); `local`: each root runs its own container `frontend` too.
 */
export async function rootTopology(
  agentUrl: string,
  natsPort: number,
  options: { caller?: boolean; perRoot?: boolean; local?: boolean; callerTo?: string } = {},
): Promise<string> {
  const file = `${FIXTURES_DIR}standby_${crypto.randomUUID()}.yaml`;
  const agent = options.perRoot ? "\${AGENT_URL}" : agentUrl;
  const nats = options.perRoot ? "\${NATS_URL}" : `nats://127.0.0.1:${natsPort}`;
  await Deno.writeTextFile(
    file,
    `name: dist
transports: { name: "\${ROOT_NAME}", secret: ${SECRET}, keepalive: 1s }
hosts: { node-b: { address: "${agent}" } }
leadership: { nats: "${nats}", bucket: dist_leader, ttl: ${TTL}ms }
containers:
  x: { module: ./member.ts, mode: remote }
${
      options.caller
        ? `  y: { module: ./caller.ts, mode: remote, config: { to: ${options.callerTo ?? "x"} } }\n`
        : ""
    }${options.local ? "  frontend: { module: ./member.ts, mode: worker }\n" : ""}`,
  );
  return file;
}

/** The last figures caller.ts logged on `agent` (it logs them every 200 ms). */
export function callerStats(
  agent: AgentProcess,
): { ok: number; failed: number; errors: string[]; longestGap: number } | null {
  const line = agent.log.findLast((l) => l.includes("caller stats "));
  return line ? JSON.parse(line.slice(line.indexOf("caller stats ") + 13)) : null;
}

/** Whether `agent` logged running (or adopting) x, any epoch, for root `root`. */
export const placedFor = (agent: AgentProcess, root: string): boolean =>
  agent.log.some((line) =>
    new RegExp(`(running|adopted) x \\(epoch \\d+\\) for runtime "${root}"`).test(line)
  );

/**
 * When (ms into the day, by the machine's clock) the first line of a root's log matching `what`
 * was written: roots on one machine share that clock, so their lines can be ordered.
 * @throws {AssertionError} When no line matches.
 */
export function loggedAt(text: string, what: RegExp): number {
  const line = text.split("\n").find((l) => what.test(l));
  assert.ok(line, `no line ${what} in:\n${text}`);
  const [h, m, sec] = line.slice(0, 12).split(":").map(Number);
  return (h * 60 + m) * 60_000 + sec * 1000;
}
