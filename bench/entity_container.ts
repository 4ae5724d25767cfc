// The entity container the entity bench drives: an echo, a counter in each entity's state, and
// what it needs to measure memory and find the owner's process.
import { entities, type EntityContext } from "../container.ts";

export default entities((e: EntityContext<{ n: number }>) => ({
  echo: (body: unknown) => body,
  touch: () => ++e.state.n,
  heap: () => Deno.memoryUsage().heapUsed,
  where: () => ({ instance: e.instance, pid: Deno.pid }),
}), { initial: () => ({ n: 0 }), idle: "10m", store: "memory" });
