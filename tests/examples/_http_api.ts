// examples/http-api's topology for the tests: its kraken.yaml as it is, but for what it reads from
// the environment.
import assert from "node:assert/strict";
import { parse } from "yaml";
import type { TopologyInput } from "../../mod.ts";

/** The example's folder: what its modules resolve against. */
export const HTTP_API = new URL("../../examples/http-api/", import.meta.url);

/**
 * examples/http-api/kraken.yaml with the gateway's port 0 (one the runtime picks) and without the
 * management block (which `kraken start` serves, not Runtime.start). Not through Deno.env: test
 * files share the process's environment (and pass it to the CLI processes they start) under
 * `deno test --parallel`.
 */
export async function httpApiTopology(): Promise<TopologyInput> {
  const input = parse(await Deno.readTextFile(new URL("kraken.yaml", HTTP_API))) as TopologyInput;
  const { management: _, ...app } = input;
  const gateway = app.containers.gateway;
  assert.deepEqual(gateway.serve, { port: "${HTTP_API_PORT}", hostname: "127.0.0.1" });
  return { ...app, containers: { ...app.containers, gateway: { ...gateway, serve: 0 } } };
}
