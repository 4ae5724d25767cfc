// docs/cli.md keeps up with the CLI: every command it documents exists (and every command is
// documented), and its KrakenPHP mapping covers each console command KrakenPHP had.
import assert from "node:assert/strict";
import { kraken } from "./_cli.ts";

const DOC = await Deno.readTextFile(new URL("../../docs/cli.md", import.meta.url));

/** KrakenPHP's console commands (src/Console/Client/Command of kraken-php/framework). */
const KRAKENPHP = [
  "project:create",
  "project:destroy",
  "project:start",
  "project:stop",
  "project:status",
  "arch:start",
  "arch:stop",
  "arch:status",
  "container:start",
  "container:stop",
  "container:destroy",
  "container:status",
  ...["process", "thread"].flatMap((family) =>
    ["create", "destroy", "start", "stop", "exists"].map((verb) => `${family}:${verb}`)
  ),
  "runtime:start",
  "runtime:stop",
  "runtime:destroy",
  "runtime:exists",
];

Deno.test("docs/cli.md maps every KrakenPHP console command onto a kraken command", () => {
  const section = DOC.slice(DOC.indexOf("## From KrakenPHP's console"));
  const rows = section.split("\n").filter((line) => line.startsWith("| `"));
  for (const command of KRAKENPHP) {
    const row = rows.find((line) => line.split("|")[1].includes(`\`${command}`));
    assert.ok(row, `${command} has a row`);
    assert.match(row.split("|")[2], /`kraken [a-z]+/, `${command} maps onto a kraken command`);
  }
});

Deno.test("every command docs/cli.md has a section for exists, and every command has one", async () => {
  const headings = DOC.split("\n").filter((line) => line.startsWith("### "));
  const documented = headings.flatMap((line) => [...line.matchAll(/`kraken ([a-z]+)/g)])
    .map((m) => m[1]);
  const help = (await kraken(["help"])).stdout;
  const rows = help.slice(help.indexOf("Commands:")).split("\n\n")[0].split("\n").slice(1);
  const listed = rows.flatMap((row) =>
    row.trim().split(/ {2,}/)[0].split(" | ").map((name) => name.split(" ")[0])
  );
  for (const name of documented) assert.ok(listed.includes(name), `${name} is a command`);
  for (const name of listed) assert.ok(documented.includes(name), `${name} is documented`);
});
