// A container module that imports only the light entry (`container.ts`, published as
// `jsr:@kraken/kraken/container`) runs in every mode, and the errors it imports from there are the
// classes its isolate's runtime throws.
import assert from "node:assert/strict";
import { MODES, withRuntime } from "../_helpers.ts";

for (const mode of MODES) {
  Deno.test(`a ${mode} container importing only container.ts starts, answers and catches UnavailableError by class`, async () => {
    await withRuntime(
      { containers: { light: { module: "./light_echo.ts", mode } } },
      async (rt) => {
        const ref = rt.ref("light");
        assert.deepEqual(await ref.request("echo", { n: 1 }), { n: 1 });
        assert.equal(await ref.request("askNobody"), "UnavailableError caught");
      },
    );
  });
}
