// bench/_summary.ts: the rows every bench hands over end up in the one table `deno task bench`
// prints, whether the bench ran in main.ts's process or as its own child process.
import assert from "node:assert/strict";
import { SUMMARY_ENV, summaryMarkdown, summaryRows } from "../../bench/_summary.ts";

const childScript = `
import { addSummaryRow } from ${
  JSON.stringify(new URL("../../bench/_summary.ts", import.meta.url).href)
};
addSummaryRow({ figure: "child figure", value: "2.50x", target: ">= 2x", met: true, bench: "child.ts" });
addSummaryRow({ figure: "child miss", value: "30 ms", target: "<= 25 ms", met: false, bench: "child.ts" });
`;

Deno.test("rows a child bench adds reach the parent's summary through the file it names", async () => {
  const file = await Deno.makeTempFile();
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(script, childScript);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "-A", "--no-check", script],
      env: { [SUMMARY_ENV]: file },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const rows = summaryRows(file);
    assert.deepEqual(rows.map((r) => [r.figure, r.met]), [["child figure", true], [
      "child miss",
      false,
    ]]);
  } finally {
    await Deno.remove(file);
    await Deno.remove(script);
  }
});

Deno.test("the summary table says met, MISSED or - for each row", () => {
  const md = summaryMarkdown([
    { figure: "a", value: "1x", target: ">= 1x", met: true, bench: "x" },
    { figure: "b", value: "1x", target: ">= 2x", met: false, bench: "x" },
    { figure: "c", value: "1x", target: "-", met: null, bench: "x" },
  ]);
  const lines = md.split("\n");
  assert.equal(lines.length, 5);
  assert.match(lines[2], /\| a .*\| met /);
  assert.match(lines[3], /\| b .*\| MISSED /);
  assert.match(lines[4], /\| c .*\| - /);
});

Deno.test("a missing row file gives no rows, not an error", () => {
  assert.deepEqual(summaryRows("/nonexistent/kraken-summary-rows"), []);
});
