// The `leadership:` block (config/_read_leadership.ts): where a standby root's lease lives.
import assert from "node:assert/strict";
import { validateTopology } from "../../config/topology.ts";
import { TopologyError } from "../../protocol/errors.ts";

const validate = (extra: Record<string, unknown>) =>
  validateTopology({ name: "shop", containers: {}, ...extra }, { baseUrl: "file:///app/" });

Deno.test("leadership: takes its servers, bucket and ttl; bucket defaults to <app>_leader, ttl to 2s", () => {
  assert.deepEqual(
    validate({ leadership: { nats: ["nats://10.0.0.5:4222", "nats://10.0.0.6:4222"] } }).leadership,
    { servers: ["nats://10.0.0.5:4222", "nats://10.0.0.6:4222"], bucket: "shop_leader", ttl: 2000 },
  );
  assert.deepEqual(
    validate({ leadership: { nats: "nats://a:4222", bucket: "roots", ttl: "1s" } }).leadership,
    { servers: ["nats://a:4222"], bucket: "roots", ttl: 1000 },
  );
  assert.equal(validate({}).leadership, undefined);
});

Deno.test("leadership: without nats: uses the servers of transports.nats", () => {
  const t = validate({
    transports: { name: "root-a", nats: { servers: ["nats://10.0.0.5:4222"] } },
    leadership: {},
  });
  assert.deepEqual(t.leadership?.servers, ["nats://10.0.0.5:4222"]);
});

Deno.test("leadership: a bad field is refused naming the field, the value and what was expected", () => {
  const refuses = (leadership: unknown, key: string, message: RegExp) =>
    assert.throws(() => validate({ leadership }), (error: unknown) => {
      assert.ok(error instanceof TopologyError, String(error));
      assert.match(error.message, new RegExp(key.replaceAll(".", "\\.")));
      assert.match(error.message, message);
      return true;
    });
  refuses({}, "leadership.nats", /missing; expected the NATS servers .*since transports.nats/);
  refuses(
    { nats: "http://a:80" },
    "leadership.nats",
    /nats:\/\/127\.0\.0\.1:4222, got "http:\/\/a:80"/,
  );
  refuses({ nats: "nats://u:p@a:4222" }, "leadership.nats", /without credentials/);
  refuses({ nats: [] }, "leadership.nats", /got an empty list/);
  refuses({ nats: "nats://a", bucket: "a.b" }, "leadership.bucket", /bucket name .* got "a\.b"/);
  refuses({ nats: "nats://a", ttl: "100ms" }, "leadership.ttl", /from 300ms to 1h, got "100ms"/);
  refuses({ nats: "nats://a", ttl: "soon" }, "leadership.ttl", /a duration .* got "soon"/);
  refuses({ nats: "nats://a", lease: "1s" }, "leadership.lease", /.+/);
});
