// The example READMEs as a user reads them: a command in an inline code span is copied whole, so a
// span must not be broken across lines (deno fmt wraps prose, and a wrapped span copies as two
// commands); and two examples whose management APIs listen on one port cannot run at once, so a
// README says which other examples share its port.
import assert from "node:assert/strict";
import { parse } from "yaml";

const EXAMPLES = new URL("../../examples/", import.meta.url);

/** The example folders that have a README.md. */
async function examplesWithReadme(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(EXAMPLES)) {
    if (!entry.isDirectory) continue;
    try {
      await Deno.stat(new URL(`${entry.name}/README.md`, EXAMPLES));
      names.push(entry.name);
    } catch {
      // No README: nothing to check.
    }
  }
  return names.sort();
}

/** The README's prose: fenced blocks (indented ones too) blanked out, line numbers kept. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split("\n").map((line) => {
    if (line.trimStart().startsWith("```")) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line;
  });
}

/** Inline code spans of the README's prose that run across a line break, with their line. */
function brokenSpans(text: string): string[] {
  const lines = prose(text);
  const broken: string[] = [];
  let start = 0;
  // A paragraph ends at a blank line; a span never crosses one.
  for (let i = 0; i <= lines.length; i++) {
    if (i < lines.length && lines[i].trim() !== "") continue;
    const paragraph = lines.slice(start, i).join("\n");
    for (const match of paragraph.matchAll(/`[^`]*`/g)) {
      if (match[0].includes("\n")) {
        const line = start + paragraph.slice(0, match.index).split("\n").length;
        broken.push(`line ${line}: ${JSON.stringify(match[0])}`);
      }
    }
    start = i + 1;
  }
  return broken;
}

/** `KEY=value` lines of an example's local.env (quotes stripped). */
async function localEnv(name: string): Promise<Record<string, string>> {
  let text = "";
  try {
    text = await Deno.readTextFile(new URL(`${name}/local.env`, EXAMPLES));
  } catch {
    return {};
  }
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) env[match[1]] = match[2].replace(/^"(.*)"$/, "$1");
  }
  return env;
}

/** The port of the example's management API, as `deno task example:NAME` runs it, if it has one. */
async function managementPort(name: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(new URL(`${name}/kraken.yaml`, EXAMPLES));
  } catch {
    return undefined;
  }
  const listen = (parse(text) as { management?: { listen?: unknown } })?.management?.listen;
  if (typeof listen !== "string") return undefined;
  const env = await localEnv(name);
  const resolved = listen.replace(/\$\{(\w+)\}/g, (_, key: string) => env[key] ?? "");
  return /:(\d+)$/.exec(resolved)?.[1];
}

Deno.test("example READMEs keep every inline code span on one line", async () => {
  const names = await examplesWithReadme();
  assert.ok(names.length > 0, `no README.md under ${EXAMPLES.pathname}`);
  for (const name of names) {
    const text = await Deno.readTextFile(new URL(`${name}/README.md`, EXAMPLES));
    assert.deepEqual(brokenSpans(text), [], `examples/${name}/README.md: a code span is wrapped`);
  }
});

Deno.test("a code span wrapped across two lines is found, one in a fenced block is not", () => {
  const text = "a `deno task\n  kraken restart gateway` b\n\n```sh\n`x\ny`\n```\n\nc `one line` d";
  assert.deepEqual(brokenSpans(text), ['line 1: "`deno task\\n  kraken restart gateway`"']);
});

// The READMEs of the agents, game, daemon and scheduler examples; the others are not checked yet.
for (const name of ["agents", "game", "daemon", "scheduler"]) {
  Deno.test(`the ${name} README names every example that shares its management port`, async () => {
    const port = await managementPort(name);
    assert.ok(port, `examples/${name}/kraken.yaml: expected a management listen address`);
    const readme = await Deno.readTextFile(new URL(`${name}/README.md`, EXAMPLES));
    for (const other of await examplesWithReadme()) {
      if (other === name || await managementPort(other) !== port) continue;
      assert.ok(
        new RegExp(`\\b${other}\\b`).test(readme),
        `examples/${name}/README.md: the ${other} example also listens on port ${port}; ` +
          `expected the README to name it`,
      );
    }
  });
}
