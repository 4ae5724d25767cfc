// The gateway: runs inline and answers by asking other containers by name, wherever they run.
import { container } from "../../../container.ts";
import type Catalog from "./catalog.ts";
import type Pricing from "./pricing.ts";

export default container((ctx) => {
  const catalog = ctx.ref<typeof Catalog>("catalog");
  const pricing = ctx.ref<typeof Pricing>("pricing");
  let served = 0;
  ctx.onStop((reason) => ctx.log.info(`onStop (${reason.kind}): served ${served} offers, bye`));
  // Periodic work belongs to this incarnation: ctx.setInterval ends with it. A global setInterval
  // here (inline: the host's timers) would outlive a restart and keep the host alive.
  let reported = 0;
  ctx.setInterval(() => {
    if (served === reported) return;
    ctx.log.info(`${served - reported} offers in the last 30 s`);
    reported = served;
  }, 30_000);
  return {
    /** A product from the catalog (worker), priced by pricing (process). */
    async offer(body: { sku: string }) {
      const product = await catalog.request("product", body);
      const price = await pricing.request("quote", { price: product.price });
      served++;
      return { name: product.name, price, servedBy: product.servedBy };
    },
  };
});
