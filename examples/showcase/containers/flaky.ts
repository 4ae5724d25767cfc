// A container that fails on purpose. A handler that throws fails its instance; the supervisor
// then calls this factory again: a fresh incarnation with fresh state.
import { container } from "../../../container.ts";

export default container((ctx) => {
  let calls = 0;
  return {
    whoami() {
      return { instance: ctx.instance, calls: ++calls };
    },
    crash(): never {
      throw new Error(`${ctx.instance} crashed on purpose`);
    },
  };
});
