// The `inventory` container of bench/serve.ts's hop figure: the lookup as a request/reply topic.
import { container } from "../container.ts";
import { lookup } from "./_serve_work.ts";

export default container(() => ({
  get: (body: { sku: string }) => lookup(body.sku),
}));
