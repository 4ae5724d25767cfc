/**
 * `kraken schedules`: the schedules of a running topology, with when each fires next and how its
 * last tick went.
 *
 * @module
 */
import type { ScheduleSnapshot } from "../../runtime/runtime.ts";
import type { Command } from "../command.ts";
import { connect } from "../connection.ts";
import { usageError } from "../exit.ts";
import { renderSchedules } from "../_schedules_view.ts";

/**
 * `kraken schedules [--json]`.
 *
 * @example
 * ```sh
 * kraken schedules
 * kraken schedules --json | jq '.[] | {name, next}'
 * ```
 */
export const schedules: Command = {
  name: "schedules",
  args: "",
  summary: "list the schedules: when each fires, where, its next and last tick",
  description: "Reads GET /v1/schedules. Ticks fire from the root runtime only, once each " +
    "(see docs/schedules.md); --json prints what the API returns.",
  api: true,
  flags: {},
  examples: ["kraken schedules", "kraken schedules --json"],
  async run({ positionals, flags }, io) {
    if (positionals.length > 0) {
      throw usageError("schedules", `unexpected argument "${positionals[0]}"`);
    }
    const client = await connect("schedules", flags);
    const list = await client.request<ScheduleSnapshot[]>("GET", "/v1/schedules");
    if (io.json) io.printJson(list);
    else if (list.length === 0) io.print(io.out.dim("(no schedules)"));
    else io.print(renderSchedules(list, io.out));
    return 0;
  },
};
