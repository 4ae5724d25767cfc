// Pricing: runs in its own Deno process with no permission. It learns its currency and VAT from
// ctx.config and listens for "sale" publications, announcing each change with a publication.
import { container } from "../../../container.ts";

export default container((ctx) => {
  const vat = Number(ctx.config.vat ?? 0);
  const currency = String(ctx.config.currency ?? "EUR");
  let discount = 0;
  ctx.subscribe("sale", (body) => {
    discount = (body as { percent: number }).percent / 100;
    ctx.log.info(`sale received: ${discount * 100}% off from now on`);
    ctx.publish("prices.changed", { discount: `${discount * 100}%`, by: ctx.instance });
  });
  return {
    /** Price with VAT and the current discount. */
    quote(body: { price: number }) {
      const total = Math.round(body.price * (1 + vat) * (1 - discount) * 100) / 100;
      return `${total.toFixed(2)} ${currency}`;
    },
    /** The sandbox seen from inside: no file, no socket. */
    async sandbox() {
      const attempt = async (f: () => Promise<unknown>) => {
        try {
          await f();
          return "allowed?!";
        } catch (error) {
          return `denied (${(error as Error).name})`;
        }
      };
      return {
        pid: Deno.pid,
        file: await attempt(() => Deno.readTextFile("/etc/hostname")),
        net: await attempt(async () =>
          (await Deno.connect({ hostname: "127.0.0.1", port: 80 })).close()
        ),
      };
    },
  };
});
