/**
 * The transports a runtime links to its peers with: those it was given
 * (`RuntimeOptions.transports`) or the built-in set, checked against the addresses its topology
 * names before anything starts.
 *
 * @module
 */
import type { Topology } from "../config/topology.ts";
import { TopologyError } from "../protocol/errors.ts";
import { defaultTransports } from "../transports/defaults.ts";
import type { Transport } from "../transports/transport.ts";
import { TransportSet } from "../transports/transport_set.ts";

/**
 * The runtime's transport set.
 *
 * @param topology Its topology: `transports.listen` and every `hosts:` address must have a
 *   transport in the set (when the topology has a `transports:` block: only then does it link).
 * @param given `RuntimeOptions.transports`; the built-in set when absent.
 * @throws {TypeError} When `given` is not a list of transports (see {@linkcode TransportSet}).
 * @throws {TopologyError} Naming the key whose address no transport of the set serves.
 */
export function transportsFor(topology: Topology, given?: readonly Transport[]): TransportSet {
  const set = new TransportSet(given ?? defaultTransports());
  if (!topology.transports) return set;
  const addresses: [string, string][] = Object.entries(topology.hosts).map((
    [name, host],
  ) => [`hosts.${name}.address`, host.address]);
  if (topology.transports.listen) {
    addresses.unshift(["transports.listen", topology.transports.listen]);
  }
  for (const [key, address] of addresses) {
    const scheme = new URL(address).protocol.slice(0, -1);
    if (set.schemes.includes(scheme)) continue;
    throw new TopologyError(
      `no transport for "${address}" in this runtime (it has ${
        set.schemes.map((s) => `${s}://`).join(", ") || "none"
      }); expected one of those, or a transport for "${scheme}" in RuntimeOptions.transports${
        scheme === "nats" ? " (NATS is not an address: set transports.nats.servers)" : ""
      }`,
      { file: topology.file, key },
    );
  }
  return set;
}
