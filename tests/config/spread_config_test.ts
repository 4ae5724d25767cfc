// `placement: spread`, `hosts:` and `max_per_host:` on a remote container: read, and refused with
// a TopologyError naming the key, the bad value and what was expected.
import assert from "node:assert/strict";
import { validateTopology } from "../../config/topology.ts";
import { TopologyError } from "../../protocol/errors.ts";

const top = (api: Record<string, unknown>) =>
  validateTopology({
    name: "shop",
    transports: { secret: "s3cret" },
    hosts: { a: { address: "tcp://127.0.0.1:1" }, b: { address: "tcp://127.0.0.1:2" } },
    containers: { api: { module: "./api.ts", mode: "remote", ...api } },
  }, { baseUrl: "file:///app/" });

const refused = (api: Record<string, unknown>, key: string, message: RegExp) =>
  assert.throws(() => top(api), (e: unknown) => {
    assert.ok(e instanceof TopologyError);
    assert.match(e.message, message);
    assert.equal(e.key, key);
    return true;
  });

Deno.test("placement: spread with hosts: and max_per_host: is read into the container's spread", () => {
  const api = top({ placement: "spread", replicas: 4, hosts: ["a", "b"], max_per_host: "2" })
    .containers[0];
  assert.deepEqual(api.spread, { hosts: ["a", "b"], maxPerHost: 2 });
  assert.equal(top({ replicas: 2 }).containers[0].spread, undefined);
});

Deno.test("placement: spread is refused with a value other than spread, a local mode or host:", () => {
  refused({ placement: "pack" }, "containers.api.placement", /expected placement: spread.*"pack"/);
  assert.throws(
    () =>
      validateTopology({
        name: "shop",
        containers: { api: { module: "./api.ts", mode: "worker", placement: "spread" } },
      }, { baseUrl: "file:///app/" }),
    /needs mode: remote; expected no placement: with mode: worker/,
  );
  refused({ placement: "spread", host: "a" }, "containers.api.placement", /either host: or/);
});

Deno.test("hosts: and max_per_host: are refused without placement: spread, or when wrong", () => {
  refused({ hosts: ["a"] }, "containers.api.hosts", /expected it with placement: spread/);
  refused({ max_per_host: 1 }, "containers.api.max_per_host", /with placement: spread/);
  refused(
    { placement: "spread", hosts: ["c"] },
    "containers.api.hosts[0]",
    /unknown host "c".*a, b/,
  );
  refused({ placement: "spread", hosts: ["a", "a"] }, "containers.api.hosts[1]", /listed twice/);
  refused({ placement: "spread", hosts: [] }, "containers.api.hosts", /non-empty list/);
  refused(
    { placement: "spread", max_per_host: 0 },
    "containers.api.max_per_host",
    />= 1, got number 0/,
  );
});

Deno.test("replicas that cannot fit on hosts: × max_per_host are refused", () => {
  refused(
    { placement: "spread", replicas: 5, hosts: ["a", "b"], max_per_host: 2 },
    "containers.api.replicas",
    /5 replicas do not fit on 2 agents with max_per_host: 2; expected at most 4/,
  );
});

Deno.test("rebalance: auto is read with placement: spread; another value or without it is refused", () => {
  assert.deepEqual(top({ placement: "spread", rebalance: "auto" }).containers[0].spread, {
    rebalance: "auto",
  });
  assert.deepEqual(top({ placement: "spread", rebalance: "manual" }).containers[0].spread, {});
  refused({ rebalance: "auto" }, "containers.api.rebalance", /with placement: spread/);
  refused(
    { placement: "spread", rebalance: "sometimes" },
    "containers.api.rebalance",
    /expected one of manual, auto/,
  );
});
