// Mistakes people make in kraken.yaml, written in other tools' words or by habit: each file is
// refused with exactly the message pinned here ("<file>:<line>:<column>: <key>: <what>; <hint>").
import assert from "node:assert/strict";
import { loadTopology, TopologyError, validateTopology } from "../../mod.ts";
import { UNSTABLE_FEATURES } from "../../config/topology.ts";

/** [what, YAML text, "line:column", message after "<file>:<line>:<column>: "]. */
const CASES: [string, string, string, string][] = [
  [
    "replicas far beyond what a machine runs (a typo)",
    "containers:\n  api:\n    module: ./api.ts\n    replicas: 40000\n",
    "4:15",
    "containers.api.replicas: expected at most 1000 replicas (each is a worker thread or a process), got 40000",
  ],
  [
    "a buffer beyond what a node holds for one container",
    "containers:\n  api:\n    module: ./api.ts\n    buffer: 1000000000000000\n",
    "4:13",
    "containers.api.buffer: expected at most 100000 messages held per sender, got 1000000000000000",
  ],
  [
    "PM2's max_memory_restart spelling of a size (256M)",
    "containers:\n  api:\n    module: ./api.ts\n    mode: worker\n    max_memory: 256M\n",
    "5:17",
    'containers.api.max_memory: expected a size from 1MiB to 1024GiB such as 268435456, 256MiB or 1GiB, got "256M" (did you mean 256MiB?)',
  ],
  [
    "max_memory on an inline container, which has no memory of its own",
    "containers:\n  api:\n    module: ./api.ts\n    mode: inline\n    max_memory: 256MiB\n",
    "5:17",
    "containers.api.max_memory: expected max_memory only on a worker, process or remote container: an inline container shares the runtime's isolate, whose memory is not its own",
  ],
  [
    "KrakenPHP's thread for a worker",
    "containers:\n  api:\n    module: ./api.ts\n    mode: thread\n",
    "4:11",
    'containers.api.mode: expected one of inline, worker, process, got "thread" (did you mean "worker"?)',
  ],
  [
    "Docker's restart: always",
    "containers:\n  api:\n    module: ./api.ts\n    restart: always\n",
    "4:14",
    'containers.api.restart: expected one of permanent, transient, temporary, got "always" (did you mean "permanent"?)',
  ],
  [
    "Kubernetes' restart: on-failure",
    "containers:\n  api: { module: ./api.ts, restart: on-failure }\n",
    "2:37",
    'containers.api.restart: expected one of permanent, transient, temporary, got "on-failure" (did you mean "transient"?)',
  ],
  [
    "net: yes, which YAML 1.2 reads as the text yes",
    "containers:\n  api:\n    module: ./api.ts\n    permissions:\n      net: yes\n",
    "5:12",
    'containers.api.permissions.net: expected true, false or a list of strings, got "yes", which YAML reads as text: write true',
  ],
  [
    "write: off",
    "containers:\n  api:\n    module: ./api.ts\n    permissions: { write: off }\n",
    "4:27",
    'containers.api.permissions.write: expected true, false or a list of strings, got "off", which YAML reads as text: write false',
  ],
  [
    "a net item with two ports",
    'containers:\n  api:\n    module: ./api.ts\n    permissions:\n      net: ["127.0.0.1:80:90"]\n',
    "5:13",
    'containers.api.permissions.net[0]: expected host or host:port such as 127.0.0.1:8080 or api.example.com, got "127.0.0.1:80:90", which has more than one ":" (one port per item; an IPv6 address goes in brackets: [::1]:8080)',
  ],
  [
    "a net item written as a URL",
    "containers:\n  api:\n    module: ./api.ts\n    permissions:\n      net: [https://api.example.com/v1]\n",
    "5:13",
    'containers.api.permissions.net[0]: expected host or host:port such as 127.0.0.1:8080 or api.example.com, got "https://api.example.com/v1", a URL: write api.example.com',
  ],
  [
    "a net item whose port is a range",
    "containers:\n  api:\n    module: ./api.ts\n    permissions:\n      net:\n        - localhost:8000-8100\n",
    "6:11",
    'containers.api.permissions.net[0]: expected host or host:port such as 127.0.0.1:8080 or api.example.com, got "localhost:8000-8100", whose port "8000-8100" is not a number from 0 to 65535',
  ],
  [
    "a net item with a character no host has",
    'containers:\n  api:\n    module: ./api.ts\n    permissions: { net: ["ex!ample.com:443"] }\n',
    "4:26",
    'containers.api.permissions.net[0]: expected host or host:port such as 127.0.0.1:8080 or api.example.com, got "ex!ample.com:443", whose host "ex!ample.com" is not a host name or IP address',
  ],
  [
    "a sys name misspelt",
    "containers:\n  api:\n    module: ./api.ts\n    permissions: { sys: [hostname, osrelease] }\n",
    "4:36",
    'containers.api.permissions.sys[1]: expected one of hostname, osRelease, osUptime, loadavg, networkInterfaces, systemMemoryInfo, uid, gid, cpus, homedir, getegid, statfs, getPriority, setPriority, userInfo, username, inspector, got "osrelease" (did you mean "osRelease"?)',
  ],
  [
    "management.listen written as a URL",
    "containers: {}\nmanagement:\n  listen: http://127.0.0.1:9090/\n  token: t\n",
    "3:11",
    'management.listen: expected "host:port", "port" or ":port" such as 127.0.0.1:9090, got "http://127.0.0.1:9090/"; write the address without a scheme: 127.0.0.1:9090',
  ],
  [
    "management.listen without a port",
    "containers: {}\nmanagement:\n  listen: localhost\n  token: t\n",
    "3:11",
    'management.listen: expected "host:port", "port" or ":port" such as 127.0.0.1:9090, got "localhost", which has no port: write localhost:9090',
  ],
  [
    "management.port instead of listen",
    "containers: {}\nmanagement:\n  token: t\n  port: 9090\n",
    "4:3",
    'management.port: unknown key "port" (the address goes in listen:, e.g. listen: 127.0.0.1:9090); expected one of listen, token',
  ],
  [
    "management.host, which is also a container key",
    "containers: {}\nmanagement:\n  host: 0.0.0.0\n  token: t\n",
    "3:3",
    'management.host: unknown key "host" (the address goes in listen:, e.g. listen: 127.0.0.1:9090); expected one of listen, token',
  ],
  [
    "a management.token a bearer header cannot carry (never echoed)",
    "containers: {}\nmanagement:\n  token: two words\n",
    "3:10",
    "management.token: expected letters, digits and - . _ ~ + / (then = padding), as a bearer token is (RFC 6750), e.g. the output of openssl rand -hex 32, got a string with another character (not shown: a secret)",
  ],
  [
    "instances for replicas",
    "containers:\n  api:\n    module: ./api.ts\n    instances: 3\n",
    "4:5",
    'containers.api.instances: unknown key "instances" (did you mean "replicas"?); expected one of module, mode, replicas, balance, restart, shutdown, keepalive, permissions, unstable, config, host, placement, hosts, max_per_host, rebalance, runs_as, on_error, buffer, max_memory, supervisor, children, serve, entities',
  ],
  [
    "the --unstable- flag instead of the feature's name",
    "containers:\n  api:\n    module: ./api.ts\n    unstable: [--unstable-net]\n",
    "4:16",
    'containers.api.unstable[0]: unknown unstable feature "--unstable-net": write "net" (the name without --unstable-)',
  ],
  [
    "a misspelt unstable feature",
    "containers:\n  api:\n    module: ./api.ts\n    unstable: [net, kvv]\n",
    "4:21",
    `containers.api.unstable[1]: unknown unstable feature "kvv" (did you mean "kv"?); expected one of ${
      UNSTABLE_FEATURES.join(", ")
    }`,
  ],
];

const dir = await Deno.makeTempDir({ prefix: "kraken_mistakes_" });
await Deno.writeTextFile(`${dir}/api.ts`, "export default {};\n");

for (const [what, yaml, at, message] of CASES) {
  Deno.test(`kraken.yaml with ${what} is refused, saying where and what to write`, async () => {
    const file = `${dir}/${what.replace(/\W+/g, "_")}.yaml`;
    await Deno.writeTextFile(file, yaml);
    const error = await loadTopology(file).then(() => assert.fail("it loaded"), (e) => e);
    assert.ok(error instanceof TopologyError, String(error));
    assert.equal(error.message, `${file}:${at}: ${message}`);
    assert.deepEqual([error.line, error.column], at.split(":").map(Number));
    assert.equal(error.key, message.slice(0, message.indexOf(": ")));
  });
}

Deno.test("the same mistakes in an object topology give the same message, without a line", () => {
  const error = (() => {
    try {
      validateTopology(
        { containers: { api: { module: "./api.ts", mode: "thread" } } },
        { baseUrl: "file:///app/" },
      );
    } catch (e) {
      return e as TopologyError;
    }
    assert.fail("it validated");
  })();
  assert.equal(
    error.message,
    'topology: containers.api.mode: expected one of inline, worker, process, got "thread" (did you mean "worker"?)',
  );
});

Deno.test("the limits still let the usual values through", () => {
  const t = validateTopology({
    containers: {
      api: {
        module: "./api.ts",
        replicas: 1000,
        buffer: 100_000,
        permissions: {
          net: ["127.0.0.1:8080", "[::1]:80", "example.com", "0.0.0.0:0", "unix:/tmp/a.sock"],
          env: ["yes_please"],
          write: false,
          read: true,
        },
      },
    },
    management: { listen: "[::1]:9090", token: "t" },
  }, { baseUrl: "file:///app/" });
  assert.equal(t.containers[0].replicas, 1000);
  assert.deepEqual(t.containers[0].permissions.net, [
    "127.0.0.1:8080",
    "[::1]:80",
    "example.com",
    "0.0.0.0:0",
    "unix:/tmp/a.sock",
  ]);
});

Deno.test({
  name: "cleanup",
  fn: () => Deno.remove(dir, { recursive: true }),
});
