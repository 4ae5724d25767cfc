// NATS credentials from the topology: the right ones connect, wrong ones fail the start with an
// error naming the server, never the password or token, and nothing logged carries them.
import assert from "node:assert/strict";
import { nkeys } from "@nats-io/transport-node";
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

/** A `.creds` file as nsc writes it: a user JWT block, then the user's NKey seed block. */
function credsFile(seed: Uint8Array): string {
  // Outside operator mode the server checks the NKey's signature of its nonce, not the JWT.
  const jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.unchecked";
  return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
    "************************* IMPORTANT *************************\n\n" +
    `-----BEGIN USER NKEY SEED-----\n${new TextDecoder().decode(seed)}\n` +
    "------END USER NKEY SEED------\n";
}

natsTest(
  "creds: a .creds file whose NKey the server knows connects; another NKey's fails the start with AuthenticationError; the seed is never logged",
  async () => {
    const user = nkeys.createUser();
    const stranger = nkeys.createUser();
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(
      `${dir}/nats.conf`,
      `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }\n`,
    );
    await Deno.writeTextFile(`${dir}/app.creds`, credsFile(user.getSeed()));
    await Deno.writeTextFile(`${dir}/stranger.creds`, credsFile(stranger.getSeed()));
    const server = await NatsServer.start(["-c", `${dir}/nats.conf`]);
    const logs: string[] = [];
    const runtimes: Runtime[] = [];
    try {
      await assert.rejects(
        start(topology("x", { servers: [server.url], creds: `${dir}/stranger.creds` }), logs),
        (e: Error) => {
          assert.ok(e instanceof AuthenticationError, `${e.name}: ${e.message}`);
          assert.equal(
            e.message,
            `NATS at ${server.url} refused this runtime's credentials (authorization violation); check transports.nats: user and password, token or creds`,
          );
          return true;
        },
      );
      for (const name of ["a", "b"]) {
        runtimes.push(
          await start(topology(name, { servers: [server.url], creds: `${dir}/app.creds` }), logs),
        );
      }
      await waitUntil(
        () => runtimes[0].tree().peers.some((p) => p.name === "b" && p.state === "connected"),
        5000,
        "a sees b",
      );
      assert.equal(await runtimes[0].ref("c_b").request("whoami"), "c_b#0.1");
      const seeds = [user, stranger].map((k) => new TextDecoder().decode(k.getSeed()));
      for (const line of logs) assert.ok(!seeds.some((seed) => line.includes(seed)), line);
    } finally {
      for (const rt of runtimes) await rt.shutdown();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

natsTest(
  "creds: a missing or malformed .creds file fails the start with AuthenticationError naming the file, before any server is tried",
  async () => {
    const dir = await Deno.makeTempDir();
    // Nothing listens here: a start that tried a server would fail with UnavailableError.
    const servers = [`nats://127.0.0.1:${freePort()}`];
    try {
      await assert.rejects(
        start(topology("a", { servers, creds: `${dir}/missing.creds` }), []),
        (e: Error) =>
          e instanceof AuthenticationError &&
          e.message ===
            `cannot read transports.nats.creds file "${dir}/missing.creds" (NotFound); expected a readable NATS .creds file`,
      );
      await Deno.writeTextFile(`${dir}/bad.creds`, "-----BEGIN NATS USER JWT-----\nsecret-ish\n");
      await assert.rejects(
        start(topology("a", { servers, creds: `${dir}/bad.creds` }), []),
        (e: Error) =>
          e instanceof AuthenticationError && !e.message.includes("secret-ish") &&
          e.message ===
            `transports.nats.creds file "${dir}/bad.creds" is not a NATS .creds file; expected a user JWT block and a user NKey seed block, as nsc writes them`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

natsTest(
  "a server that accepts the connection but never speaks: the start fails with UnavailableError (timeout) naming it",
  async () => {
    const port = freePort();
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    const accepted: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) accepted.push(conn);
    })();
    const url = `nats://127.0.0.1:${port}`;
    try {
      await assert.rejects(
        start(topology("a", { servers: [url] }), []),
        (e: Error) =>
          e instanceof UnavailableError &&
          e.message === `cannot connect to NATS at ${url} (timeout)`,
      );
    } finally {
      listener.close();
      await accepting;
      for (const conn of accepted) conn.close();
    }
  },
);
