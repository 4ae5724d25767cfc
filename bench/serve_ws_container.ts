// A serving container of bench/serve.ts: upgrades every request to a WebSocket and holds it idle
// (the runtime tracks upgraded sockets and closes them with 1001 at stop).
import { container } from "../container.ts";

export default container(() => ({
  fetch: (request: Request) => Deno.upgradeWebSocket(request).response,
}));
