// A serving container of bench/serve.ts: answers every HTTP request with the bench JSON, looked
// up by the `inventory` container (bench/serve_inventory_container.ts) behind one request/reply
// hop.
import { container } from "../container.ts";

export default container((ctx) => {
  const inventory = ctx.ref("inventory");
  return {
    fetch: async () => Response.json(await inventory.request("get", { sku: "A-100" })),
  };
});
