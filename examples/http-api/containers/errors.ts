// Domain errors of the shop. They cross isolates by class name (RemoteError.remoteName), which is
// what kraken.yaml's on_error rules and the gateway's status mapping match on: a refused order is
// an answer, not a crash, so those rules resume the container instead of restarting it.

/** A SKU the inventory does not carry. */
export class UnknownSku extends Error {
  override name = "UnknownSku";
}

/** Fewer items left than asked for. */
export class OutOfStock extends Error {
  override name = "OutOfStock";
}

/** No order with that id (never placed, or placed before the orders container restarted). */
export class UnknownOrder extends Error {
  override name = "UnknownOrder";
}

/** A request body that is not what the topic expects. */
export class BadRequest extends Error {
  override name = "BadRequest";
}

/** SKUs as the inventory spells them: letters, digits and dashes, at most 32. */
export const SKU = /^[A-Za-z0-9-]{1,32}$/;

/** The largest quantity one order may ask for. */
export const MAX_QTY = 1000;

/** `body.sku` when it is a well-formed SKU; throws BadRequest naming the value otherwise. */
export function skuOf(body: unknown): string {
  const sku = (body as { sku?: unknown } | null)?.sku;
  if (typeof sku !== "string" || !SKU.test(sku)) {
    throw new BadRequest(
      `sku: expected 1 to 32 letters, digits or dashes, got ${JSON.stringify(sku)?.slice(0, 40)}`,
    );
  }
  return sku;
}

/** `body.qty` when it is a whole number 1..MAX_QTY; throws BadRequest naming the value otherwise. */
export function qtyOf(body: unknown): number {
  const qty = (body as { qty?: unknown } | null)?.qty;
  if (typeof qty !== "number" || !Number.isInteger(qty) || qty < 1 || qty > MAX_QTY) {
    throw new BadRequest(
      `qty: expected a whole number from 1 to ${MAX_QTY}, got ${JSON.stringify(qty)?.slice(0, 40)}`,
    );
  }
  return qty;
}
