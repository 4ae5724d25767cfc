// Inventory: stock per SKU, in a Web Worker with no permission at all. Its state lives in this
// factory, so a restart (after /crash/inventory) starts again from the stock in kraken.yaml's
// config: what a real service would keep in a database is kept here in memory, on purpose.
import { container } from "../../../container.ts";
import { OutOfStock, qtyOf, skuOf, UnknownSku } from "./errors.ts";

/** One SKU's stock. */
export interface Stock {
  sku: string;
  available: number;
  reserved: number;
}

export default container((ctx) => {
  const stock = new Map<string, Stock>();
  for (
    const [sku, available] of Object.entries((ctx.config.stock ?? {}) as Record<string, number>)
  ) {
    stock.set(sku, { sku, available: Number(available), reserved: 0 });
  }
  const find = (body: unknown): Stock => {
    const sku = skuOf(body);
    const found = stock.get(sku);
    if (!found) throw new UnknownSku(`no SKU ${sku}`);
    return found;
  };
  ctx.log.info(`${stock.size} SKUs in stock`);
  return {
    /** Every SKU with what is left and what is reserved. */
    list(): Stock[] {
      return [...stock.values()].map((s) => ({ ...s }));
    },
    /** One SKU (`kraken call inventory stock '{"sku":"kr-1"}'`). */
    stock(body: { sku: string }): Stock {
      return { ...find(body) };
    },
    /** Takes `qty` items of `sku` out of what is available, or refuses with OutOfStock. */
    reserve(body: { sku: string; qty: number }): Stock {
      const item = find(body);
      const qty = qtyOf(body);
      if (item.available < qty) {
        throw new OutOfStock(`${item.sku}: ${qty} asked, ${item.available} left`);
      }
      item.available -= qty;
      item.reserved += qty;
      return { ...item };
    },
    /** Gives back a reservation (an order that could not be recorded). */
    release(body: { sku: string; qty: number }): Stock {
      const item = find(body);
      const qty = Math.min(qtyOf(body), item.reserved);
      item.available += qty;
      item.reserved -= qty;
      return { ...item };
    },
    /** Fails this instance on purpose, so one can watch its supervisor restart it. */
    crash(): never {
      throw new Error(`${ctx.instance} crashed on purpose`);
    },
  };
});
