// The catalog: runs in a Web Worker (two replicas) whose sandbox may read ./data and nothing else.
import { container } from "../../../container.ts";

export interface Product {
  sku: string;
  name: string;
  price: number;
}

const DATA = new URL("../data/products.json", import.meta.url);

export default container(async (ctx) => {
  const products: Product[] = JSON.parse(await Deno.readTextFile(DATA));
  return {
    /** One product by SKU (and which replica answered). */
    product(body: { sku: string }) {
      const found = products.find((p) => p.sku === body.sku);
      if (!found) throw new RangeError(`no product ${body.sku}`);
      return { ...found, servedBy: ctx.instance };
    },
    /** The sandbox seen from inside: ./data is readable, /etc/hostname is not. */
    sandbox() {
      return {
        data: tryRead(DATA),
        etc: tryRead("/etc/hostname"),
      };
    },
  };
});

function tryRead(path: string | URL): string {
  try {
    Deno.readTextFileSync(path);
    return "allowed";
  } catch (error) {
    return `denied (${(error as Error).name})`;
  }
}
