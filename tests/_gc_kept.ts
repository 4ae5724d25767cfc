// Runs tests/_gc_probe.ts in a child with V8's gc() exposed and a young generation large enough
// that no scavenge runs during its churn, and returns the bytes of dead objects it saw survive.

/** Bytes of churned, dead objects two minor GCs left alive after `what` was churned. */
export async function keptAfterChurn(what: "pending" | "seen"): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--v8-flags=--expose-gc,--min-semi-space-size=64,--max-semi-space-size=64",
      new URL("./_gc_probe.ts", import.meta.url).pathname,
      what,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`the probe failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return (JSON.parse(text) as { kept: number }).kept;
}
