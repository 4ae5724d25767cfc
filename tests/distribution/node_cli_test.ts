// `kraken node` refuses bad flags as usage errors (exit 2) before it listens: a --root that is a
// file, a --name (or host name) that is no runtime name, a --listen that is no link URL.
import assert from "node:assert/strict";
import { FIXTURES_DIR, SECRET } from "./_agents.ts";

const CLI = new URL("../../cli/main.ts", import.meta.url).pathname;

async function node(...args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", CLI, "node", "--secret", SECRET, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("kraken node: a --root that is a file is refused (exit 2)", async () => {
  const { code, stderr } = await node("--root", `${FIXTURES_DIR}member.ts`);
  assert.equal(code, 2, stderr);
  assert.match(stderr, /--root .*member\.ts is not a folder/);
});

Deno.test("kraken node: a --name that is no runtime name is refused (exit 2)", async () => {
  const { code, stderr } = await node("--name", "node.b", "--root", FIXTURES_DIR);
  assert.equal(code, 2, stderr);
  assert.match(stderr, /--name "node\.b" is not a runtime name/);
});

Deno.test("kraken node: a --listen that is no link URL is refused (exit 2)", async () => {
  const { code, stderr } = await node("--listen", "http://127.0.0.1:1", "--root", FIXTURES_DIR);
  assert.equal(code, 2, stderr);
  assert.match(stderr, /--listen http:\/\/127\.0\.0\.1:1: expected tcp:\/\//);
});

Deno.test("kraken node: --keepalive takes ms or a duration, nothing else (exit 2)", async () => {
  const { code, stderr } = await node("--keepalive", "1x", "--root", FIXTURES_DIR);
  assert.equal(code, 2, stderr);
  assert.match(stderr, /--keepalive must be ms/);
});
