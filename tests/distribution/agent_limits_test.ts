// A host agent's limits hold against a hostile root: one that holds the secret and sends `place`
// envelopes of its own making. Paths are compared where they lead (`..` collapsed, symbolic links
// followed) with --root and --max-permissions, for every permission kind and for the module
// itself; refusals come back as PermissionEscalationError naming the kind, the item and the limit —
// and never where a symbolic link inside the agent's root leads (its disk is not the root's).
// The agent is a real `kraken node` process; the roots are a raw authenticated link and a real
// runtime.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { TransportSet } from "../../transports/transport_set.ts";
import { type AgentProcess, FIXTURES_DIR, SECRET, startAgent } from "./_agents.ts";

/** The built-in transports, as a runtime given none uses them. */
const builtin = new TransportSet(defaultTransports());

type Placed = Extract<Envelope, { k: "placed" }>;

/** An agent root folder: a module, a data folder, and links out of both. */
async function agentRoot(): Promise<{ tmp: string; root: string; cleanup(): Promise<void> }> {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "kraken-agent-" }));
  const root = `${tmp}/app`;
  await Deno.mkdir(`${root}/data/sub`, { recursive: true });
  await Deno.writeTextFile(`${root}/data/sub/file.txt`, "inside");
  await Deno.writeTextFile(
    `${root}/member.ts`,
    `export { default } from ${JSON.stringify(`${FIXTURES_DIR}member.ts`)};\n`,
  );
  await Deno.copyFile(new URL("../../deno.json", import.meta.url), `${tmp}/deno.json`);
  await Deno.symlink("/etc", `${root}/data/etc`); // a link out of the allowed folder
  await Deno.symlink("/etc/kraken-does-not-exist", `${root}/data/ghost`); // dangling, out
  await Deno.symlink(`${FIXTURES_DIR}member.ts`, `${root}/outside.ts`); // a module out of root
  await Deno.symlink(root, `${tmp}/root-link`); // --root given through a link
  return { tmp, root, cleanup: () => Deno.remove(tmp, { recursive: true }) };
}

/** A root runtime of its own making: joins over a raw link, then places whatever it likes. */
async function hostileRoot(url: string) {
  const link = await builtin.dial(url, { secret: SECRET });
  const answers: Placed[] = [];
  link.onEnvelope = (env) => {
    if (env.k === "ping") link.send({ k: "pong" });
    if (env.k === "placed") answers.push(env);
  };
  link.send({ k: "join", n: "evil", c: [] });
  let epoch = 0;
  return {
    async place(name: string, spec: unknown): Promise<Placed> {
      const e = ++epoch;
      link.send({ k: "place", n: name, s: spec, e } as Envelope);
      const deadline = performance.now() + 20_000;
      while (performance.now() < deadline) {
        const found = answers.find((a) => a.n === name && a.e === e);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`no answer to placing ${name}`);
    },
    send(env: unknown) {
      link.send(env as Envelope);
    },
    async close() {
      link.close();
      await link.closed;
    },
  };
}

async function withAgent(
  maxPermissions: Record<string, unknown>,
  fn: (agent: AgentProcess, root: string) => Promise<void>,
  rootOf: (dirs: { tmp: string; root: string }) => string = ({ root }) => root,
) {
  const dirs = await agentRoot();
  const agent = await startAgent("node-limits", { root: rootOf(dirs), maxPermissions });
  try {
    await fn(agent, dirs.root);
  } finally {
    await agent.stop();
    await dirs.cleanup();
  }
}

/** What a refusal says of an item a symbolic link takes out of the agent's root. */
const LINK_OUT = "it leads out of this agent's root through a symbolic link";

const refusal = (answer: Placed) => {
  assert.equal(answer.ok, false, "refused");
  return `${answer.x?.name}: ${answer.x?.message}`;
};

Deno.test("an agent refuses every path grant that leads out of its --max-permissions: .., links, dangling links, for read, write and ffi, without saying where a link leads", async () => {
  await withAgent(
    { read: ["./data"], write: ["./data"], ffi: ["./data"] },
    async (agent, root) => {
      const evil = await hostileRoot(agent.url);
      try {
        const limit = `"${root}/data"`;
        for (const kind of ["read", "write", "ffi"]) {
          const cases: [string, string][] = [
            [
              `${root}/data/../../..`,
              `it is ${root.split("/").slice(0, -2).join("/") || "/"} here`,
            ],
            ["data/../../..", `it is ${root.split("/").slice(0, -2).join("/") || "/"} here`],
            ["./data/etc", LINK_OUT],
            [`${root}/data/etc/passwd`, LINK_OUT],
            ["./data/ghost", LINK_OUT],
          ];
          for (const [asked, resolved] of cases) {
            const answer = await evil.place("x", {
              module: "./member.ts",
              permissions: { [kind]: [asked] },
            });
            assert.equal(
              refusal(answer),
              `PermissionEscalationError: container "x" asks for ${kind} "${asked}", which cannot be granted: ${resolved}, and this agent's --max-permissions allow ${kind} only ${limit}`,
            );
          }
          const whole = await evil.place("x", {
            module: "./member.ts",
            permissions: { [kind]: true },
          });
          assert.match(
            refusal(whole),
            new RegExp(
              `asks for ${kind} \\(all\\), which cannot be granted: this agent's --max-permissions allow ${kind} only`,
            ),
          );
        }
      } finally {
        await evil.close();
      }
    },
  );
});

Deno.test("an agent compares net, import, env, run and sys by meaning, and refuses what its limits lack", async () => {
  await withAgent({
    net: ["*.example.com:443", "10.0.0.0/8"],
    import: ["jsr.io"],
    env: ["APP_*"],
    run: ["sh"],
    sys: ["hostname"],
  }, async (agent) => {
    const evil = await hostileRoot(agent.url);
    try {
      const refused: [string, unknown, RegExp][] = [
        [
          "net",
          ["example.com:80"],
          /asks for net "example\.com:80", which cannot be granted: this agent's --max-permissions allow net only "\*\.example\.com:443", "10\.0\.0\.0\/8"/,
        ],
        ["net", ["db.internal"], /asks for net "db\.internal"/],
        ["net", ["11.0.0.1:5432"], /asks for net "11\.0\.0\.1:5432"/],
        ["net", true, /asks for net \(all\)/],
        [
          "import",
          ["evil.example.com"],
          /asks for import "evil\.example\.com".*allow import only "jsr\.io"/,
        ],
        ["env", ["HOME"], /asks for env "HOME".*allow env only "APP_\*"/],
        ["env", ["APP*"], /asks for env "APP\*"/],
        [
          "run",
          ["/bin/bash"],
          /asks for run "\/bin\/bash", which cannot be granted: (it is \/\S+ here|it leads out of this agent's root through a symbolic link), and this agent's --max-permissions allow run only "sh"/,
        ],
        ["sys", ["osRelease"], /asks for sys "osRelease"/],
        [
          "ffi",
          ["/lib"],
          /asks for ffi "\/lib", which cannot be granted: this agent's --max-permissions grant no ffi/,
        ],
      ];
      for (const [kind, asked, message] of refused) {
        const answer = await evil.place("x", {
          module: "./member.ts",
          permissions: { [kind]: asked },
        });
        assert.match(refusal(answer), message);
        assert.match(refusal(answer), /^PermissionEscalationError: container "x"/);
      }
      const ok = await evil.place("x", {
        module: "./member.ts",
        permissions: {
          net: ["API.Example.com.:443", "10.1.2.3:5432"],
          import: ["JSR.io:443"],
          env: ["APP_NAME"],
          sys: ["hostname"],
        },
      });
      assert.equal(ok.ok, true, JSON.stringify(ok.x));
    } finally {
      await evil.close();
    }
  });
});

Deno.test("an agent runs only a module whose real path lies in its --root's real path; never a URL, data: or a link out (whose target it does not name)", async () => {
  await withAgent({}, async (agent, root) => {
    const evil = await hostileRoot(agent.url);
    try {
      const cases: [unknown, RegExp][] = [
        [
          "./outside.ts",
          new RegExp(
            `module "\\./outside\\.ts" leads out of this agent's root through a symbolic link \\(${root}\\)`,
          ),
        ],
        ["./data/../../../../../../etc/passwd", /is \/etc\/passwd, outside this agent's root/],
        ["../member.ts", /outside this agent's root/],
        [
          `${root}/member.ts`,
          /is not a path under this agent's root .*never an absolute path or a URL/,
        ],
        [`file://${root}/member.ts`, /never an absolute path or a URL/],
        ["https://example.com/x.ts", /never an absolute path or a URL/],
        ["data:application/javascript,export default 1", /never an absolute path or a URL/],
        [
          5,
          /expected a module path under this agent's root \(\.\/path\) or a jsr:\/npm: specifier, got 5/,
        ],
        ["./data", /module "\.\/data" does not exist under this agent's root/],
      ];
      for (const [module, message] of cases) {
        const answer = await evil.place("x", { module });
        assert.match(refusal(answer), /^TopologyError: topology: x\.module: /);
        assert.match(refusal(answer), message);
        assert.ok(!refusal(answer).includes(FIXTURES_DIR), "where the link leads is not said");
      }
      assert.equal((await evil.place("x", { module: "./member.ts" })).ok, true);
    } finally {
      await evil.close();
    }
  }, ({ tmp }) => `${tmp}/root-link`);
});

Deno.test("an agent survives placed specs of any shape, and never expands ${VAR} from its own environment", async () => {
  await withAgent({}, async (agent) => {
    const evil = await hostileRoot(agent.url);
    try {
      evil.send({ k: "place", n: "a", s: null, e: 1 });
      evil.send({ k: "place", n: { x: 1 }, s: {}, e: 1 });
      evil.send({ k: "place", n: "b", s: [], e: "1" });
      const cases: [unknown, RegExp][] = [
        [
          { module: "./member.ts", permissions: "all" },
          /x\.permissions: expected a map of permission kinds, got "all"/,
        ],
        [
          { module: "./member.ts", permissions: { read: 5 } },
          /x\.permissions\.read: expected true, false or a list of strings, got number 5/,
        ],
        [
          { module: "./member.ts", permissions: { read: [{}] } },
          /x\.permissions\.read\[0\]: expected a non-empty string/,
        ],
        [
          { module: "./member.ts", mode: ["worker"] },
          /an agent runs a placed container as a process or a worker, not \["worker"\]/,
        ],
        [{ module: "./member.ts", mode: "inline" }, /not "inline"/],
        [
          { module: "./member.ts", runs_as: "worker" },
          /x\.runs_as: runs_as says how an agent runs a remote container/,
        ],
        [
          { module: "./member.ts", children: {} },
          /x\.children: a placed container has no children/,
        ],
        [{ module: "./member.ts", reads: ["/"] }, /x\.reads: unknown key "reads"/],
        [
          { module: "./member.ts", restart: "${PATH}" },
          /x\.restart: environment variable \$\{PATH\} is not set/,
        ],
        [
          { module: "./member.ts", permissions: { env: ["${PATH}"] } },
          /environment variable \$\{PATH\} is not set/,
        ],
      ];
      for (const [spec, message] of cases) {
        const text = refusal(await evil.place("x", spec));
        assert.match(text, message);
        assert.ok(!text.includes(Deno.env.get("PATH")!), "the agent's PATH never comes back");
      }
      const ok = await evil.place("x", { module: "./member.ts", config: { v: "${PATH}" } });
      assert.equal(ok.ok, true, "config is the container's own data, passed as written");
    } finally {
      await evil.close();
    }
  });
});

Deno.test("a real root's remote container: relative paths resolve on the agent against --root, the grant is the real path, and a link out fails the placement with why", async () => {
  await withAgent({ read: ["./data"] }, async (agent, root) => {
    const rt = await Runtime.start({
      name: "dist",
      transports: { name: "root", secret: SECRET, keepalive: "1s" },
      hosts: { "node-limits": { address: agent.url } },
      containers: {
        x: { module: "./member.ts", mode: "remote", permissions: { read: ["./data/sub"] } },
      },
    }, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "silent" });
    try {
      const query = (path: string) => rt.ref("x").request("permission", { name: "read", path });
      assert.equal(await query(`${root}/data/sub/file.txt`), "granted");
      assert.notEqual(await query(`${FIXTURES_DIR}data/sub/file.txt`), "granted");
      assert.notEqual(await query("/etc/hostname"), "granted");
      await assert.rejects(
        rt.spawn("y", {
          module: "./member.ts",
          mode: "remote",
          permissions: { read: ["./data/etc"] },
        }),
        (e: Error) =>
          e.name === "PermissionEscalationError" &&
          e.message ===
            `container "y" asks for read "./data/etc", which cannot be granted: ${LINK_OUT}, and this agent's --max-permissions allow read only "${root}/data"`,
      );
      const y = rt.tree().containers.find((c) => c.name === "y");
      assert.equal(y?.placement?.state, "failed");
      assert.match(
        y?.placement?.why ?? "",
        /PermissionEscalationError: container "y" asks for read "\.\/data\/etc"/,
      );
    } finally {
      await rt.shutdown();
    }
  });
});
