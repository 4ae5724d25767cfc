// NATS credentials from the topology: the right ones connect, wrong ones fail the start with an
// error naming the server, never the password or token, and nothing logged carries them.
import assert from "node:assert/strict";
import { AuthenticationError, Runtime, type TopologyInput, UnavailableError } from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { freePort, NatsServer, natsTest } from "./_nats_server.ts";

const PASSWORD = "correct-horse-battery";
const TOKEN = "s3cr3t-t0ken";

function topology(name: string, nats: NonNullable<TopologyInput["transports"]>["nats"]) {
  return {
    name: "shop",
    transports: { name, keepalive: "500ms", nats },
    containers: { [`c_${name}`]: { module: "./member.ts", mode: "inline" as const } },
  };
}

async function start(input: TopologyInput, logs: string[]): Promise<Runtime> {
  return await Runtime.start(input, {
    baseUrl: FIXTURES.href,
    logLevel: "debug",
    logger: (e) => logs.push(`${e.level} ${e.message}`),
  });
}

natsTest(
  "user and password: the right ones connect, a wrong password fails the start naming the server, not the password",
  async () => {
    const server = await NatsServer.start(["--user", "kraken", "--pass", PASSWORD]);
    const logs: string[] = [];
    const runtimes: Runtime[] = [];
    try {
      const wrong = "not-the-password";
      const error = await assert.rejects(
        start(topology("x", { servers: [server.url], user: "kraken", password: wrong }), logs),
        (e: Error) => {
          assert.ok(e instanceof AuthenticationError, `${e.name}: ${e.message}`);
          assert.equal(
            e.message,
            `NATS at ${server.url} refused this runtime's credentials (authorization violation); check transports.nats: user and password, token or creds`,
          );
          assert.ok(!e.message.includes(wrong) && !e.message.includes(PASSWORD));
          return true;
        },
      );
      void error;
      for (const name of ["a", "b"]) {
        runtimes.push(
          await start(
            topology(name, { servers: [server.url], user: "kraken", password: PASSWORD }),
            logs,
          ),
        );
      }
      await waitUntil(
        () => runtimes[0].tree().peers.some((p) => p.name === "b" && p.state === "connected"),
        5000,
        "a sees b",
      );
      assert.equal(await runtimes[0].ref("c_b").request("whoami"), "c_b#0.1");
      for (const line of logs) {
        assert.ok(!line.includes(PASSWORD) && !line.includes(wrong), line);
      }
    } finally {
      for (const rt of runtimes) await rt.shutdown();
      await server.kill();
    }
  },
);

natsTest(
  "token: a wrong token fails the start with AuthenticationError; the right one connects",
  async () => {
    const server = await NatsServer.start(["--auth", TOKEN]);
    const logs: string[] = [];
    try {
      await assert.rejects(
        start(topology("x", { servers: [server.url], token: "wrong-token" }), logs),
        (e: Error) =>
          e instanceof AuthenticationError && e.message.includes(server.url) &&
          !e.message.includes("wrong-token") && !e.message.includes(TOKEN),
      );
      const rt = await start(topology("a", { servers: [server.url], token: TOKEN }), logs);
      await rt.shutdown();
      for (const line of logs) assert.ok(!line.includes(TOKEN), line);
    } finally {
      await server.kill();
    }
  },
);

natsTest(
  "no NATS server listening: the start fails with UnavailableError naming the servers",
  async () => {
    const url = `nats://127.0.0.1:${freePort()}`;
    await assert.rejects(
      start(topology("a", { servers: [url] }), []),
      (e: Error) =>
        e instanceof UnavailableError &&
        e.message === `cannot connect to NATS at ${url} (connection refused)`,
    );
  },
);
