// The work every HTTP server of bench/serve.ts does per request, bare or in a container: look a
// stock item up and answer it as JSON. The same function runs in the handler (no hop) and in the
// `inventory` container behind one request/reply hop.

/** One stock item, as the bench's handlers answer it. */
export interface StockItem {
  sku: string;
  name: string;
  stock: number;
  warehouse: string;
}

const ITEMS = new Map<string, StockItem>(
  ["A-100", "A-101", "B-200"].map((sku, i) => [
    sku,
    { sku, name: `widget ${i}`, stock: 40 + i, warehouse: "north" },
  ]),
);

/** The item `sku` (a fixed one for an unknown sku, so every request answers the same shape). */
export function lookup(sku: string): StockItem {
  return ITEMS.get(sku) ?? { sku, name: "unknown", stock: 0, warehouse: "none" };
}
