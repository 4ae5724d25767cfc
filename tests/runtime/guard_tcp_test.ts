// The guard of an isolate without a TCP grant leaves Node's TCP handle alone: reaching it (the
// `process` global's `binding`) starts Deno's Node layer, ~20 ms of CPU at every process start,
// and without a TCP `net` grant Deno refuses that handle's bind anyway.
import assert from "node:assert/strict";
import { validateTopology } from "../../config/topology.ts";
import { guardOptions } from "../../runtime/_isolate_handle.ts";

const GUARD = new URL("../../runtime/_guard.ts", import.meta.url).href;

/** Installs a process guard in a fresh `deno eval` with `tcp`; says whether it read `process`. */
async function readsProcess(tcp: boolean | undefined): Promise<boolean> {
  const options = JSON.stringify({ container: "c", mode: "process", unstable: [], tcp });
  const script = `
    let touched = false;
    const own = Object.getOwnPropertyDescriptor(globalThis, "process");
    Object.defineProperty(globalThis, "process", {
      get() { touched = true; return own.get.call(globalThis); },
      configurable: true,
    });
    const { installGuard } = await import(${JSON.stringify(GUARD)});
    installGuard(${options});
    console.log(JSON.stringify(touched));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-lock", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "deno eval");
  return JSON.parse(new TextDecoder().decode(out.stdout).trim());
}

Deno.test("a process guard without a TCP grant does not reach Node's TCP handle (no Node layer)", async () => {
  assert.equal(await readsProcess(false), false);
});

Deno.test("a process guard with a TCP grant (or not told) guards Node's TCP handle", async () => {
  assert.equal(await readsProcess(true), true);
  assert.equal(await readsProcess(undefined), true);
});

/** The guard options a guarded isolate without TCP hands a worker it starts (`new Worker`). */
async function nestedOptions(tcp: boolean): Promise<string> {
  const options = JSON.stringify({ container: "c", mode: "process", unstable: [], tcp });
  // A stand-in Worker records the entry the guard builds, and starts nothing.
  const script = `
    let entry = "";
    globalThis.Worker = class { constructor(url) { entry = String(url); } };
    const { installGuard } = await import(${JSON.stringify(GUARD)});
    installGuard(${options});
    new Worker("data:application/javascript,1", { type: "module" });
    const install = decodeURIComponent(decodeURIComponent(entry)).match(/installGuard\\((.*?)\\);/);
    console.log(install[1]);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-lock", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "deno eval");
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("a worker started in an isolate without TCP is told so (its grant is within its parent's)", async () => {
  assert.match(await nestedOptions(false), /"tcp":false/);
  assert.doesNotMatch(await nestedOptions(true), /"tcp"/);
});

function spec(permissions: Record<string, unknown>, serve?: Record<string, unknown>) {
  const topology = validateTopology({
    containers: {
      c: { module: "./c.ts", mode: "process", permissions, ...(serve ? { serve } : {}) },
    },
  }, { baseUrl: "file:///app/" });
  return topology.containers[0];
}

Deno.test("an isolate's guard is told it may listen on TCP exactly when its net grant has a host", () => {
  assert.equal(guardOptions(spec({})).tcp, false);
  assert.equal(guardOptions(spec({ net: ["unix:/run/app.sock", "vsock:3:80"] })).tcp, false);
  assert.equal(guardOptions(spec({ net: ["api.example.com:443"] })).tcp, true);
  assert.equal(guardOptions(spec({ net: true })).tcp, true);
  // serve: adds its address to the grant.
  assert.equal(guardOptions(spec({}, { port: 8080 })).tcp, true);
});
