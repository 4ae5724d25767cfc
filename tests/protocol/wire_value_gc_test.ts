// The edge check's walk of a cloned body does not keep the body alive: its reused set of met
// objects, once its table had been promoted, got every later table (one per clear()) in old space,
// each holding the objects of the body it checked through the next scavenges. The set is now
// replaced every few thousand checks.
import assert from "node:assert/strict";
import { keptAfterChurn } from "../_gc_kept.ts";

Deno.test("bodies the edge check walked die in the young generation", async () => {
  // 40,000 bodies of ~600 bytes were checked; before the fix ~28 MB of them survived.
  const kept = await keptAfterChurn("seen");
  assert.ok(kept < 8_000_000, `${kept} bytes of checked bodies survived two minor GCs`);
});
