// The file store's names: any id becomes one file name inside the container's folder — never a
// path out of it, never another id's file (long ids are hashed, and no plain name looks like one).
import assert from "node:assert/strict";
import { FileStore } from "../../runtime/_entity_store.ts";

Deno.test("FileStore keeps every id in its own file inside the folder: dots, slashes, tildes and long ids included", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-file-store-" });
  try {
    const store = new FileStore(dir);
    const long = "x".repeat(256);
    // An id spelled like the hashed file name of the long id.
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(long));
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const ids = ["..", ".", "../escape", "a/b", `~${hex}`, long, "ü", "%2E"];
    for (const [n, id] of ids.entries()) await store.save("rooms", id, { n });
    for (const [n, id] of ids.entries()) assert.deepEqual(await store.load("rooms", id), { n }, id);
    const names = [...Deno.readDirSync(`${dir}/rooms`)].map((f) => f.name);
    assert.equal(names.length, ids.length, names.join(" "));
    assert.ok(names.every((name) => !name.includes("/") && name !== ".." && name !== "."));
    assert.deepEqual([...Deno.readDirSync(dir)].map((f) => f.name), ["rooms"], "nothing outside");
    assert.equal(await store.load("rooms", "never-saved"), undefined);
    await store.delete("rooms", "a/b");
    assert.equal(await store.load("rooms", "a/b"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
