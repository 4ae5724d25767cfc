// Where the CLI finds the runtime: flags, environment, the management: block of kraken.yaml.
import assert from "node:assert/strict";
import { readManagementBlock, urlForListen } from "../../cli/connection.ts";
import { parseSse } from "../../cli/client.ts";

Deno.test("readManagementBlock reads listen and token, expanding ${VAR}; unset variables give no token", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/kraken.yaml`;
    await Deno.writeTextFile(
      file,
      "containers: {}\nmanagement:\n  listen: 0.0.0.0:9191\n  token: ${A}-${B}\n",
    );
    const env = (name: string) => ({ A: "x", B: "y" } as Record<string, string>)[name];
    assert.deepEqual(await readManagementBlock(file, env), {
      listen: "0.0.0.0:9191",
      token: "x-y",
    });
    assert.deepEqual(await readManagementBlock(file, () => undefined), {
      listen: "0.0.0.0:9191",
      token: undefined,
      unset: ["A", "B"],
    });
    await Deno.writeTextFile(file, "containers: {}\n");
    assert.equal(await readManagementBlock(file, env), null);
    await Deno.writeTextFile(file, "containers: [\n");
    assert.equal(await readManagementBlock(file, env), null, "a malformed file is ignored here");
    assert.equal(await readManagementBlock(`${dir}/none.yaml`, env), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("urlForListen: wildcard hosts are reached on loopback; bare ports get 127.0.0.1", () => {
  assert.equal(urlForListen("127.0.0.1:9090").href, "http://127.0.0.1:9090/");
  assert.equal(urlForListen("0.0.0.0:9090").href, "http://127.0.0.1:9090/");
  assert.equal(urlForListen("9090").href, "http://127.0.0.1:9090/");
  assert.equal(urlForListen(":9090").href, "http://127.0.0.1:9090/");
  assert.equal(urlForListen("[::]:9090").href, "http://[::1]:9090/");
  assert.equal(urlForListen("[::1]:9090").href, "http://[::1]:9090/");
  assert.equal(urlForListen("http://example.com:80").href, "http://example.com/");
});

Deno.test("parseSse: event and data lines; comments and empty blocks are skipped", () => {
  assert.deepEqual(parseSse('id: 3\nevent: log\ndata: {"message":"hi"}'), {
    type: "log",
    data: { message: "hi" },
  });
  assert.equal(parseSse(": keep-alive"), null);
  assert.deepEqual(parseSse("data: not json"), { type: "message", data: { text: "not json" } });
});
