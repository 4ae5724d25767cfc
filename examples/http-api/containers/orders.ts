// Orders: a separate Deno process with no permission at all (kill -9 it and watch it come back).
// Orders live in this process's memory: a restart starts with none, which is what /crash/orders
// and `kill -9` show (a real service would keep them in a database).
import { container } from "../../../container.ts";
import { BadRequest, qtyOf, skuOf, UnknownOrder } from "./errors.ts";

/** A recorded order. */
export interface Order {
  id: string;
  sku: string;
  qty: number;
  placedAt: string;
  /** The orders instance that recorded it (its incarnation changes when it restarts). */
  recordedBy: string;
  /** The orders process's pid: what to `kill -9`. */
  pid: number;
}

/** How many orders are kept; the oldest go first. */
const KEEP = 10_000;

export default container((ctx) => {
  const orders = new Map<string, Order>();
  return {
    /** Records an order for stock the inventory has already reserved. */
    place(body: { sku: string; qty: number }): Order {
      const order: Order = {
        id: crypto.randomUUID().slice(0, 8),
        sku: skuOf(body),
        qty: qtyOf(body),
        placedAt: new Date().toISOString(),
        recordedBy: ctx.instance,
        pid: Deno.pid,
      };
      orders.set(order.id, order);
      if (orders.size > KEEP) orders.delete(orders.keys().next().value!);
      return order;
    },
    /** One order by id. */
    get(body: { id: string }): Order {
      const id = body?.id;
      if (typeof id !== "string" || !/^[0-9a-f]{8}$/.test(id)) {
        throw new BadRequest(`id: expected 8 hex digits, got ${JSON.stringify(id)?.slice(0, 40)}`);
      }
      const order = orders.get(id);
      if (!order) throw new UnknownOrder(`no order ${id}`);
      return order;
    },
    /** The last `limit` orders (default 20), newest first. */
    list(body?: { limit?: number }): { count: number; orders: Order[]; pid: number } {
      const limit = Math.min(Math.max(Number(body?.limit) || 20, 1), 100);
      return {
        count: orders.size,
        orders: [...orders.values()].slice(-limit).reverse(),
        pid: Deno.pid,
      };
    },
    /** Fails this instance (and so its process) on purpose. */
    crash(): never {
      throw new Error(`${ctx.instance} crashed on purpose`);
    },
  };
});
