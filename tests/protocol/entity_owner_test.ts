import assert from "node:assert/strict";
import { entityIdProblem, ownerIndex, replicaKey } from "../../protocol/entity_owner.ts";

const replicas = (n: number, incarnation = 1) =>
  Array.from({ length: n }, (_, r) => ({ i: `room#${r}.${incarnation}` }));

Deno.test("ownerIndex gives every id the same owner whatever the order of the replicas", () => {
  const list = replicas(5);
  const reversed = list.toReversed();
  for (let n = 0; n < 500; n++) {
    const id = `e-${n}`;
    assert.equal(list[ownerIndex(id, list)].i, reversed[ownerIndex(id, reversed)].i);
  }
});

Deno.test("ownerIndex keeps an id on its replica across a restart (a new incarnation)", () => {
  const before = replicas(3, 1);
  const after = replicas(3, 7);
  for (let n = 0; n < 500; n++) {
    const id = `e-${n}`;
    assert.equal(
      replicaKey(before[ownerIndex(id, before)].i),
      replicaKey(after[ownerIndex(id, after)].i),
    );
  }
});

Deno.test("ownerIndex moves only the ids of a replica scaled away (3 → 2)", () => {
  const three = replicas(3);
  const two = three.filter((r) => r.i !== "room#1.1");
  let moved = 0;
  for (let n = 0; n < 3000; n++) {
    const id = `e-${n}`;
    const before = three[ownerIndex(id, three)].i;
    const after = two[ownerIndex(id, two)].i;
    if (before === "room#1.1") moved++;
    else assert.equal(after, before, `id ${id} moved from a replica that stayed`);
  }
  // About a third moved: the ids the removed replica owned, and only those.
  assert.ok(moved > 800 && moved < 1200, `moved ${moved} of 3000`);
});

Deno.test("ownerIndex spreads ids evenly over the replicas", () => {
  const four = replicas(4);
  const counts = [0, 0, 0, 0];
  for (let n = 0; n < 8000; n++) counts[ownerIndex(`player-${n}`, four)]++;
  for (const c of counts) assert.ok(c > 1700 && c < 2300, `counts ${counts}`);
});

Deno.test("ownerIndex of no replica is -1, of one is 0", () => {
  assert.equal(ownerIndex("a", []), -1);
  assert.equal(ownerIndex("a", [{ i: "room#0.1" }]), 0);
});

Deno.test("entityIdProblem refuses a non-string, an empty and a too long id, naming the value", () => {
  assert.equal(entityIdProblem("ok"), null);
  assert.match(entityIdProblem(7)!, /must be a string, got number/);
  assert.match(entityIdProblem(null)!, /got null/);
  assert.match(entityIdProblem("")!, /non-empty/);
  assert.match(entityIdProblem("x".repeat(257))!, /at most 256 characters, got one of 257/);
  assert.equal(entityIdProblem("x".repeat(256)), null);
});
