// A serving container of bench/serve.ts: answers every HTTP request with the bench JSON, the
// lookup done in the handler (the same work as the bare Deno.serve baseline).
import { container } from "../container.ts";
import { lookup } from "./_serve_work.ts";

export default container(() => ({
  fetch: () => Response.json(lookup("A-100")),
}));
