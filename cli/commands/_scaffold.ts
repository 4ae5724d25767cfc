/**
 * The files `kraken new` writes: a topology with a worker and a process container, their
 * modules, a test that starts the topology and asks both, deno.json tasks, and a `.env` with a
 * fresh management token. Pure: paths and contents only.
 *
 * @module
 */

/**
 * Where the generated project gets Kraken from.
 *
 * @example
 * ```ts
 * import type { KrakenSource } from "./_scaffold.ts";
 * const source: KrakenSource = { kind: "jsr", specifier: "jsr:@kraken/kraken@^0.1" };
 * ```
 */
export type KrakenSource =
  /** The published package, e.g. `jsr:@kraken/kraken@^0.1`. */
  | { kind: "jsr"; specifier: string }
  /**
   * A local checkout, as a path relative to the project (`../kraken`) or absolute, plus the
   * checkout's own bare imports (npm packages) that the project's import map must carry for it.
   */
  | { kind: "path"; path: string; imports: Record<string, string> };

/**
 * What to scaffold.
 *
 * @example
 * ```ts
 * import type { ScaffoldOptions } from "./_scaffold.ts";
 * const options: ScaffoldOptions = {
 *   name: "shop",
 *   token: "t",
 *   kraken: { kind: "jsr", specifier: "jsr:@kraken/kraken@^0.1" },
 * };
 * ```
 */
export interface ScaffoldOptions {
  /** The application's name (a valid topology name). */
  name: string;
  /** Where Kraken comes from. */
  kraken: KrakenSource;
  /** The management token written to `.env`. */
  token: string;
}

/**
 * A topology name from a folder name: letters, digits, `_` and `-`, starting with a letter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { appName } from "./_scaffold.ts";
 * assert.equal(appName("my shop"), "my-shop");
 * assert.equal(appName("2fast"), "app-2fast");
 * ```
 */
export function appName(folder: string): string {
  const cleaned = folder.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  return /^[A-Za-z]/.test(cleaned) ? cleaned : `app-${cleaned || "kraken"}`;
}

/**
 * The project's files, by path relative to its folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scaffold } from "./_scaffold.ts";
 * const files = scaffold({
 *   name: "shop",
 *   token: "t",
 *   kraken: { kind: "jsr", specifier: "jsr:@kraken/kraken@^0.1" },
 * });
 * assert.ok("kraken.yaml" in files);
 * assert.ok("tests/app_test.ts" in files);
 * ```
 */
export function scaffold(options: ScaffoldOptions): Record<string, string> {
  const { name, kraken, token } = options;
  const cli = kraken.kind === "jsr" ? `${kraken.specifier}/cli` : `${kraken.path}/cli/main.ts`;
  // Container modules import the light entry (`/container`: what container code needs, loaded in
  // every worker and process); the app that starts a runtime imports the whole library.
  const imports = kraken.kind === "jsr"
    ? {
      "@kraken/kraken": kraken.specifier,
      "@kraken/kraken/container": `${kraken.specifier}/container`,
    }
    : {
      ...kraken.imports,
      "@kraken/kraken": `${kraken.path}/mod.ts`,
      "@kraken/kraken/container": `${kraken.path}/container.ts`,
    };
  // --no-prompt: a worker container touching what it was not granted is refused, never asked
  // about (Kraken refuses to start worker containers where Deno could prompt).
  const denoJson = {
    tasks: {
      // --config: the project's import map and unstable list, even when the CLI module lives in
      // another folder with a deno.json of its own (a local checkout of Kraken).
      start: `deno run -A --no-prompt --config deno.json --env-file=.env ${cli} start kraken.yaml`,
      kraken: `deno run -A --no-prompt --config deno.json --env-file=.env ${cli}`,
      test: "deno test -A --no-prompt --env-file=.env",
    },
    imports,
    // Worker containers get their own Deno permissions: an unstable Worker option; every replica
    // of a serving container (serve:) listens on the same port with reusePort: unstable net.
    unstable: ["worker-options", "net"],
  };
  return {
    "deno.json": `${JSON.stringify(denoJson, null, 2)}\n`,
    ".env": `# Read by the deno.json tasks (--env-file). Keep it out of version control.\n` +
      `KRAKEN_TOKEN=${token}\n`,
    ".gitignore": ".env\n",
    "kraken.yaml": KRAKEN_YAML.replaceAll("{{name}}", name),
    "containers/greeter.ts": GREETER,
    "containers/counter.ts": COUNTER,
    "tests/app_test.ts": TEST,
    "README.md": README.replaceAll("{{name}}", name),
  };
}

const KRAKEN_YAML = `# The topology of {{name}}: what runs, where, and who restarts it.
# Run it: deno task start · Check it: deno task kraken check · Every key: docs/topology.md
name: {{name}}
supervisor: { strategy: one_for_one, intensity: 5, period: 10s }
containers: # started in this order, stopped in reverse
  greeter:
    module: ./containers/greeter.ts
    mode: worker # a thread with its own permissions; try inline or process
    replicas: 2
    config: { greeting: hello }
  counter:
    module: ./containers/counter.ts
    mode: process # its own OS process: a hard sandbox
management: # the API that kraken status / scale / reload / logs talk to
  listen: 127.0.0.1:9090
  token: \${KRAKEN_TOKEN} # from .env
`;

const GREETER = `import { container } from "@kraken/kraken/container";

/** Greets people. Two replicas in worker threads share the requests (see kraken.yaml). */
export default container((ctx) => {
  let greeted = 0; // state lives here: a restart calls this factory again
  return {
    greet(body: { who: string }) {
      greeted++;
      return { text: \`\${ctx.config.greeting ?? "hello"} \${body.who}\`, by: ctx.instance, greeted };
    },
  };
});
`;

const COUNTER = `import { container } from "@kraken/kraken/container";
import type greeter from "./greeter.ts";

/** Counts, in its own process; asks the greeter by name, wherever that one runs. */
export default container((ctx) => {
  let total = 0;
  ctx.log.info(\`counter ready (\${ctx.instance})\`);
  return {
    add(body: { n: number }) {
      total += body.n;
      return total;
    },
    async greetAndCount(body: { who: string }) {
      const reply = await ctx.ref<typeof greeter>("greeter").request("greet", { who: body.who });
      total++;
      return { text: reply.text, total };
    },
  };
});
`;

const TEST = `import assert from "node:assert/strict";
import { Runtime } from "@kraken/kraken";
import type counter from "../containers/counter.ts";
import type greeter from "../containers/greeter.ts";

Deno.test("the topology starts and both containers answer", async () => {
  const rt = await Runtime.start(new URL("../kraken.yaml", import.meta.url), { logLevel: "warn" });
  try {
    const hello = await rt.ref<typeof greeter>("greeter").request("greet", { who: "ada" });
    assert.equal(hello.text, "hello ada");
    assert.equal(await rt.ref<typeof counter>("counter").request("add", { n: 2 }), 2);
    const both = await rt.ref<typeof counter>("counter").request("greetAndCount", { who: "bob" });
    assert.deepEqual(both, { text: "hello bob", total: 3 });
  } finally {
    await rt.shutdown();
  }
});
`;

const README = `# {{name}}

A [Kraken](https://jsr.io/@kraken/kraken) application.

| command | what it does |
| --- | --- |
| \`deno task start\` | run the topology in the foreground (Ctrl-C stops it) |
| \`deno task test\` | start the topology in a test and ask both containers |
| \`deno task kraken status\` | the live tree of the running topology |
| \`deno task kraken scale greeter 4\` | more greeters, live |
| \`deno task kraken reload\` | apply an edited kraken.yaml (shows the plan first) |
| \`deno task kraken logs counter\` | follow the counter's logs |
| \`deno task kraken shutdown\` | stop it |

The management token is in \`.env\` (KRAKEN_TOKEN), which the tasks load.
`;
