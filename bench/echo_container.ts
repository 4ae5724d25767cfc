// The container the benchmark drives: one topic that echoes its body back.
import { container } from "../mod.ts";

export default container(() => ({
  echo(body: unknown) {
    return body;
  },
}));
