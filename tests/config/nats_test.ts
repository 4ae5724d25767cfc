// transports.nats: good blocks validate into the spec the NATS bridge reads; bad ones fail with
// an exact message naming the key — and never echo a credential.
import assert from "node:assert/strict";
import { loadTopology, TopologyError, validateTopology } from "../../mod.ts";
import { topologyJsonSchema } from "../../config/schema.ts";

const base = { baseUrl: "file:///app/" };

function transportsOf(transports: unknown, extra: Record<string, unknown> = {}) {
  return validateTopology({ transports, containers: {}, ...extra }, base).transports;
}

function refuses(input: Record<string, unknown>, expected: string): void {
  assert.throws(
    () => validateTopology({ containers: {}, ...input }, base),
    (e: Error) => {
      assert.ok(e instanceof TopologyError, e.message);
      assert.equal(e.message, `topology: ${expected}`);
      return true;
    },
  );
}

Deno.test("transports.nats: servers and user/password validate; no secret is needed for NATS alone", () => {
  assert.deepEqual(
    transportsOf({
      name: "a",
      nats: { servers: ["nats://127.0.0.1:4222", "nats://10.0.0.2"], user: "u", password: "p" },
    }),
    {
      name: "a",
      secret: "",
      keepalive: 5000,
      maxFrame: 16 * 1024 * 1024,
      nats: { servers: ["nats://127.0.0.1:4222", "nats://10.0.0.2"], user: "u", password: "p" },
    },
  );
});

Deno.test("transports.nats: servers as one string, a token, creds resolved against the topology's folder", () => {
  assert.deepEqual(transportsOf({ nats: { servers: "nats://h:4222", token: "t" } })?.nats, {
    servers: ["nats://h:4222"],
    token: "t",
  });
  assert.deepEqual(
    transportsOf({ nats: { servers: "nats://a:4222, nats://b:4222" } })?.nats?.servers,
    ["nats://a:4222", "nats://b:4222"],
    "a comma-separated list in one string (NATS_URL style)",
  );
  assert.deepEqual(
    transportsOf({ nats: { servers: ["nats://h"], creds: "./keys/app.creds" } })?.nats,
    {
      servers: ["nats://h"],
      creds: "/app/keys/app.creds",
    },
  );
});

Deno.test("transports.nats beside direct links: the secret is still required, and kept", () => {
  const t = transportsOf({
    listen: "tcp://127.0.0.1:0",
    secret: "s",
    nats: { servers: ["nats://h"] },
  });
  assert.equal(t?.secret, "s");
  assert.equal(t?.listen, "tcp://127.0.0.1:0");
});

Deno.test("transports.nats: credentials come from the environment with ${VAR}", () => {
  const t = validateTopology({
    transports: { nats: { servers: ["nats://h"], user: "${NATS_USER}", password: "${NATS_PASS}" } },
    containers: {},
  }, { ...base, env: (name) => ({ NATS_USER: "kraken", NATS_PASS: "pw" })[name] });
  assert.deepEqual(t.transports?.nats, { servers: ["nats://h"], user: "kraken", password: "pw" });
});

const BAD: [string, Record<string, unknown>, string][] = [
  [
    "no servers",
    { transports: { nats: {} } },
    "transports.nats.servers: missing; expected a list of NATS server URLs, such as [nats://127.0.0.1:4222]",
  ],
  [
    "an empty server list",
    { transports: { nats: { servers: [] } } },
    "transports.nats.servers: expected a NATS server URL or a list of them, such as [nats://127.0.0.1:4222], got an empty list",
  ],
  [
    "a server that is not nats://",
    { transports: { nats: { servers: ["nats://ok", "tcp://h:1"] } } },
    'transports.nats.servers[1]: expected a URL such as nats://127.0.0.1:4222, got "tcp://h:1"',
  ],
  [
    "a server URL with a path",
    { transports: { nats: { servers: ["nats://h:1/x"] } } },
    'transports.nats.servers[0]: expected a URL such as nats://127.0.0.1:4222, got "nats://h:1/x"',
  ],
  [
    "credentials inside a server URL (not echoed)",
    { transports: { nats: { servers: ["nats://kraken:hunter2@h:4222"] } } },
    "transports.nats.servers[0]: expected nats://host:port without credentials in it (URLs are logged); put them in transports.nats: user and password, or token",
  ],
  [
    "a user without a password",
    { transports: { nats: { servers: ["nats://h"], user: "kraken" } } },
    "transports.nats.password: missing; expected the password of user (e.g. password: ${NATS_PASSWORD})",
  ],
  [
    "a password without a user",
    { transports: { nats: { servers: ["nats://h"], password: "hunter2" } } },
    "transports.nats.user: missing; expected the user the password belongs to (e.g. user: ${NATS_USER})",
  ],
  [
    "two ways to log in",
    { transports: { nats: { servers: ["nats://h"], user: "u", password: "p", token: "hunter2" } } },
    "transports.nats.token: combines token with user; expected one way to log in: user and password, token, or creds",
  ],
  [
    "a token that is not a string (not echoed)",
    { transports: { nats: { servers: ["nats://h"], token: 12345678 } } },
    "transports.nats.token: expected a non-empty string, got a number",
  ],
  [
    "an empty password",
    { transports: { nats: { servers: ["nats://h"], user: "u", password: "" } } },
    "transports.nats.password: expected a non-empty string, got an empty string",
  ],
  [
    "nats: given a plain value (not echoed)",
    { transports: { nats: "nats://kraken:hunter2@h" } },
    "transports.nats: expected a map with keys servers, user, password, token, creds, got a string",
  ],
  [
    "a misspelt key",
    { transports: { nats: { servers: ["nats://h"], pass: "hunter2" } } },
    'transports.nats.pass: unknown key "pass" (did you mean "password"?); expected one of servers, user, password, token, creds',
  ],
  [
    "listen: without the secret",
    { transports: { listen: "tcp://127.0.0.1:0", nats: { servers: ["nats://h"] } } },
    "transports.secret: missing; expected the shared secret direct links prove, since listen: is set (e.g. secret: ${KRAKEN_SECRET}); NATS alone needs none",
  ],
  [
    "hosts: without the secret",
    { transports: { nats: { servers: ["nats://h"] } }, hosts: { b: { address: "tcp://h:1" } } },
    "transports.secret: missing; expected the shared secret direct links prove, since hosts: is set (e.g. secret: ${KRAKEN_SECRET}); NATS alone needs none",
  ],
  [
    "an application name that cannot be part of a NATS subject",
    { name: "my.shop", transports: { nats: { servers: ["nats://h"] } } },
    'name: expected an application name usable in NATS subjects (no spaces, ".", "*" or ">"), since transports.nats is set; got "my.shop"',
  ],
];

for (const [what, input, expected] of BAD) {
  Deno.test(`transports.nats refuses ${what}, naming the key`, () => {
    refuses(input, expected);
    assert.ok(!expected.includes("hunter2"));
  });
}

Deno.test("transports.nats errors in a YAML file name its line and column", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/kraken.yaml`;
    await Deno.writeTextFile(
      file,
      "name: shop\ntransports:\n  nats:\n    servers: [nats://h:4222, tcp://h:4222]\ncontainers: {}\n",
    );
    await assert.rejects(
      loadTopology(file),
      (e: Error) =>
        e instanceof TopologyError &&
        e.message ===
          `${file}:4:30: transports.nats.servers[1]: expected a URL such as nats://127.0.0.1:4222, got "tcp://h:4222"`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the JSON Schema describes transports.nats and no longer demands a secret beside it", () => {
  const defs = topologyJsonSchema().$defs as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(defs.nats.properties as object), [
    "servers",
    "user",
    "password",
    "token",
    "creds",
  ]);
  assert.deepEqual(defs.nats.required, ["servers"]);
  assert.deepEqual(defs.transports.anyOf, [{ required: ["secret"] }, { required: ["nats"] }]);
});
