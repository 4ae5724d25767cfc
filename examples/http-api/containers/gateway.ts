// The gateway: a hono app served by every replica on one port (kraken.yaml's `serve:`; the kernel
// spreads connections over the replicas). It holds no state: each route asks inventory (a worker)
// and orders (a process) by name, with a timeout, and turns their answers into HTTP.
import { Hono } from "hono";
import { container, httpErrorResponse, RemoteError } from "../../../container.ts";
import { BadRequest, MAX_QTY, qtyOf, skuOf } from "./errors.ts";
import type Inventory from "./inventory.ts";
import type Orders from "./orders.ts";

/** How long a route waits for inventory or orders, restarts included (they hold requests). */
const TIMEOUT = 3_000;

/** Domain errors of inventory and orders (by class name, as they cross isolates) → status. */
const STATUS: Record<string, 400 | 404 | 409> = {
  BadRequest: 400,
  UnknownSku: 404,
  UnknownOrder: 404,
  OutOfStock: 409,
};

/** Containers /crash/:name may crash. */
const CRASHABLE = ["orders", "inventory"] as const;

export default container((ctx) => {
  const inventory = ctx.ref<typeof Inventory>("inventory");
  const orders = ctx.ref<typeof Orders>("orders");
  const app = new Hono();

  // Which replica answered: try a few requests and watch it change.
  app.use(async (c, next) => {
    await next();
    c.header("x-served-by", ctx.instance);
  });

  app.get("/", (c) =>
    c.json({
      service: "http-api",
      servedBy: ctx.instance,
      routes: [
        "GET /stock",
        "GET /stock/:sku",
        "POST /orders {sku, qty}",
        "GET /orders",
        "GET /orders/:id",
        "POST /crash/:container (orders | inventory)",
      ],
    }));

  app.get(
    "/stock",
    async (c) => c.json(await inventory.request("list", undefined, { timeout: TIMEOUT })),
  );

  app.get("/stock/:sku", async (c) => {
    const sku = skuOf({ sku: c.req.param("sku") });
    return c.json(await inventory.request("stock", { sku }, { timeout: TIMEOUT }));
  });

  app.post("/orders", async (c) => {
    const body = await c.req.json().catch(() => {
      throw new BadRequest(`expected a JSON body {"sku": "...", "qty": 1..${MAX_QTY}}`);
    });
    const wanted = { sku: skuOf(body), qty: qtyOf(body) };
    // Reserve first: an order is recorded only for stock that is set aside for it.
    await inventory.request("reserve", wanted, { timeout: TIMEOUT });
    try {
      const order = await orders.request("place", wanted, { timeout: TIMEOUT });
      return c.json(order, 201);
    } catch (error) {
      // Not recorded (orders failed or timed out): give the stock back, then report the failure.
      await inventory.request("release", wanted, { timeout: TIMEOUT }).catch((e) =>
        ctx.log.warn(`could not release ${wanted.qty} ${wanted.sku}: ${(e as Error).message}`)
      );
      throw error;
    }
  });

  app.get("/orders", async (c) => {
    const limit = Number(c.req.query("limit") ?? 20);
    return c.json(await orders.request("list", { limit }, { timeout: TIMEOUT }));
  });

  app.get(
    "/orders/:id",
    async (c) =>
      c.json(await orders.request("get", { id: c.req.param("id") }, { timeout: TIMEOUT })),
  );

  app.post("/crash/:container", (c) => {
    const name = c.req.param("container");
    if (!(CRASHABLE as readonly string[]).includes(name)) {
      return c.json(
        { error: "BadRequest", message: `expected one of ${CRASHABLE.join(", ")}` },
        400,
      );
    }
    // Fire and forget: the container fails while handling it, and its supervisor restarts it.
    ctx.ref<typeof Inventory | typeof Orders>(name).send("crash");
    return c.json({ crashing: name, watch: "kraken status" }, 202);
  });

  app.notFound((c) =>
    c.json({ error: "NotFound", message: `no route ${c.req.method} ${c.req.path}` }, 404)
  );

  // hono catches what a route throws before Kraken sees it: map the domain errors here, and hand
  // everything else to Kraken's mapping (UnavailableError 503, TimeoutError 504, RemoteError 502).
  app.onError((error) => {
    const name = error instanceof RemoteError ? error.remoteName : error.name;
    const status = STATUS[name];
    if (status) return Response.json({ error: name, message: error.message }, { status });
    return httpErrorResponse(error);
  });

  // A hono app serves only (its `fetch` is the HTTP entry); the gateway has no topics of its own.
  return app;
});
