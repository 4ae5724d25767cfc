// A process container starts with Deno's own settings, NO_COLOR and what its `env` grant names —
// never the host's whole environment, whose secrets a program it may run could print.
import assert from "node:assert/strict";
import type environ from "../fixtures/environ.ts";
import { withRuntime } from "../_helpers.ts";
import { DENO_NEEDS, processEnv } from "../../runtime/_process_env.ts";

type Environ = typeof environ;

const SECRET = "KRAKEN_TEST_HOST_SECRET";
const NAMED = "KRAKEN_TEST_NAMED";
const PREFIXED = "KRAKEN_TEST_PREFIX_ONE";

Deno.test("a process container gets neither the host's secrets nor anything its env grant does not name", async () => {
  Deno.env.set(SECRET, "hunter2");
  Deno.env.set(NAMED, "named-value");
  Deno.env.set(PREFIXED, "prefixed-value");
  try {
    await withRuntime({
      containers: {
        plain: {
          module: "./environ.ts",
          mode: "process",
          permissions: { run: ["env"] },
        },
        granted: {
          module: "./environ.ts",
          mode: "process",
          permissions: { run: ["env"], env: [NAMED, "KRAKEN_TEST_PREFIX_*"] },
        },
      },
    }, async (rt) => {
      const plain = await rt.ref<Environ>("plain").request("environ");
      assert.equal(plain[SECRET], undefined, "the host's secret stays in the host");
      assert.equal(plain[NAMED], undefined);
      assert.equal(plain.NO_COLOR, "1");
      assert.equal(plain.PATH, Deno.env.get("PATH"), "what Deno needs is there");
      for (const name of Object.keys(plain)) {
        assert.ok(name === "NO_COLOR" || DENO_NEEDS.includes(name), `unexpected ${name}`);
      }
      const granted = await rt.ref<Environ>("granted").request("environ");
      assert.equal(granted[SECRET], undefined);
      assert.equal(granted[NAMED], "named-value", "a named variable is passed");
      assert.equal(granted[PREFIXED], "prefixed-value", "a prefix takes what it prefixes");
    });
  } finally {
    Deno.env.delete(SECRET);
    Deno.env.delete(NAMED);
    Deno.env.delete(PREFIXED);
  }
});

Deno.test("processEnv() passes the host's whole environment only with env: true", () => {
  const vars: Record<string, string> = { PATH: "/bin", KRAKEN_SECRET: "s", OTHER: "o" };
  const host = { get: (name: string) => vars[name], all: () => vars };
  assert.deepEqual(processEnv(undefined, host), { PATH: "/bin", NO_COLOR: "1" });
  assert.deepEqual(processEnv(["OTHER", "MISSING"], host), {
    PATH: "/bin",
    OTHER: "o",
    NO_COLOR: "1",
  });
  assert.deepEqual(processEnv(true, host), { ...vars, NO_COLOR: "1" });
  const unlisted = { get: (name: string) => vars[name], all: () => undefined };
  assert.deepEqual(processEnv(["KRAKEN_*"], unlisted), { PATH: "/bin", NO_COLOR: "1" });
});

Deno.test("processEnv() passes the host's OTEL_* settings only while its OpenTelemetry is on", () => {
  const off: Record<string, string> = {
    PATH: "/bin",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
  };
  const host = (vars: Record<string, string>, list = true) => ({
    get: (name: string) => vars[name],
    all: () => list ? vars : undefined,
  });
  assert.deepEqual(processEnv(undefined, host(off)), { PATH: "/bin", NO_COLOR: "1" });
  const on = { ...off, OTEL_DENO: "true", OTEL_SERVICE_NAME: "shop", OTEL_CUSTOM: "x" };
  assert.deepEqual(processEnv(undefined, host(on)), { ...on, NO_COLOR: "1" });
  // Where the host may not list its variables, the known OTEL names are read one by one.
  assert.deepEqual(processEnv(undefined, host(on, false)), {
    PATH: "/bin",
    OTEL_DENO: "true",
    OTEL_SERVICE_NAME: "shop",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
    NO_COLOR: "1",
  });
});
