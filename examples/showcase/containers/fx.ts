// Exchange rates: a worker nested inside pricing's process and supervised there. A bad currency
// is answered with an error but keeps the rates (on_error: resume); "crash" fails the instance.
import { container } from "../../../container.ts";

class UnknownCurrency extends Error {}

export default container((ctx) => {
  const rates: Record<string, number> = { EUR: 1, USD: 1.08, GBP: 0.86 };
  let served = 0;
  return {
    rate(body: { currency: string }) {
      const rate = rates[body.currency];
      if (rate === undefined) throw new UnknownCurrency(`no rate for ${body.currency}`);
      return { rate, served: ++served, instance: ctx.instance, pid: Deno.pid };
    },
    crash(): never {
      throw new Error(`${ctx.instance} crashed on purpose`);
    },
  };
});
