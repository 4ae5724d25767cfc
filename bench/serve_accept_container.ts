// A TCP serving container of bench/serve.ts: closes every connection it accepts (the same as the
// bare accept loop), so the figure is the rate of new connections.
import { container } from "../container.ts";

export default container(() => ({
  accept: (conn: Deno.TcpConn) => conn.close(),
}));
