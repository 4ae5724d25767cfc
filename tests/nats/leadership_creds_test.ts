// The root's lease connection logs in as transports.nats does (distribution/_leader.ts): a
// `.creds` file, or user and password, on a `nats-server -js` that demands them; a refused login
// fails the start with AuthenticationError, never quoting the secret.
import assert from "node:assert/strict";
import { nkeys } from "@nats-io/transport-node";
import { AuthenticationError } from "../../mod.ts";
import { type Leader, startLeader } from "../../distribution/_leader.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

/** A `.creds` file as nsc writes it: a user JWT block, then the user's NKey seed block. */
function credsFile(seed: Uint8Array): string {
  // Outside operator mode the server checks the NKey's signature of its nonce, not the JWT.
  const jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.unchecked";
  return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
    `-----BEGIN USER NKEY SEED-----\n${new TextDecoder().decode(seed)}\n` +
    "------END USER NKEY SEED------\n";
}

async function lead(
  server: NatsServer,
  nats: { servers: string[]; creds?: string; user?: string; password?: string },
): Promise<{ leader: Leader; led: boolean }> {
  let led = false;
  const leader = await startLeader(
    { servers: [server.url], bucket: "shop_leader", ttl: 1_000 },
    { name: "root-a", nats },
    { lead: () => led = true, stepDown() {}, log() {} },
  );
  return { leader, led };
}

natsTest(
  "the lease's connection logs in with transports.nats' creds file, or user and password; a refused login is an AuthenticationError without the secret",
  async () => {
    const user = nkeys.createUser();
    const stranger = nkeys.createUser();
    const dir = await Deno.makeTempDir({ prefix: "kraken_lease_creds_" });
    await Deno.writeTextFile(
      `${dir}/nats.conf`,
      `jetstream { store_dir: "${dir}/js" }\n` +
        `authorization { users: [ { nkey: ${user.getPublicKey()} }, { user: app, password: "pw-0123456789" } ] }\n`,
    );
    await Deno.writeTextFile(`${dir}/app.creds`, credsFile(user.getSeed()));
    await Deno.writeTextFile(`${dir}/stranger.creds`, credsFile(stranger.getSeed()));
    const server = await NatsServer.start(["-c", `${dir}/nats.conf`]);
    try {
      const servers = [server.url];
      const byCreds = await lead(server, { servers, creds: `${dir}/app.creds` });
      assert.ok(byCreds.led && byCreds.leader.acting(), "led with the creds file");
      assert.deepEqual(await byCreds.leader.loadTable(["x"]), new Map(), "and reads the table");
      await byCreds.leader.close();

      const byPassword = await lead(server, { servers, user: "app", password: "pw-0123456789" });
      assert.ok(byPassword.led, "led with user and password");
      await byPassword.leader.close();

      await assert.rejects(
        lead(server, { servers, creds: `${dir}/stranger.creds` }),
        (e: Error) => {
          assert.ok(e instanceof AuthenticationError, `${e.name}: ${e.message}`);
          assert.equal(
            e.message,
            `leadership.nats: NATS at ${server.url} refused this runtime's credentials (authorization violation); check transports.nats: user and password, token or creds`,
          );
          return true;
        },
      );
      await assert.rejects(
        lead(server, { servers, user: "app", password: "wrong-password-42" }),
        (e: Error) => e instanceof AuthenticationError && !e.message.includes("wrong-password-42"),
      );
    } finally {
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
