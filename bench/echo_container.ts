// The container the benchmark drives: a topic that echoes its body back, one that crashes it,
// and one that tells its pid (to SIGKILL it).
import { container } from "../container.ts";

export default container(() => ({
  echo(body: unknown) {
    return body;
  },
  crash() {
    throw new Error("crash on purpose");
  },
  pid() {
    return Deno.pid;
  },
}));
