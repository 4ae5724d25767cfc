/**
 * Direct channels between worker nodes, made on demand. The hub relays what one worker sends
 * another until it has relayed something between the two once; then it hands each of them one end
 * of a `MessageChannel`, and from there on they talk without the hub.
 *
 * Connecting every new worker to every running one at its start made hundreds of workers cost
 * n² channels (400 workers: 79,800 channels, each two port transfers and a port open in two
 * isolates: about half of the CPU of starting 200 workers), most never used; and each worker's
 * end had to be told when a peer was gone (`down`), n more messages per stop. Here a pair costs
 * something only once it talks, and a node's `down` goes to the workers it was paired with.
 *
 * @module
 */
import type { InstanceHandle } from "./_handle.ts";

/** How many forgotten nodes are remembered, to tell a late switch marker from a forged one. */
const GONE_KEPT = 1024;

/**
 * The pairs of worker nodes introduced to each other by the hub.
 *
 * @example Two ready workers are introduced once, and forgotten when one is gone
 * ```ts
 * import assert from "node:assert/strict";
 * import { PeerPorts } from "./_peer_ports.ts";
 * import type { InstanceHandle } from "./_handle.ts";
 * const handed: string[] = [];
 * const worker = (node: string) => ({
 *   node, ready: true, gone: new Promise<void>(() => {}),
 *   portLink: { flush: () => {}, handOver: (to: string, port: MessagePort) => {
 *     handed.push(`${node}<-${to}`);
 *     port.close();
 *   } },
 * }) as unknown as InstanceHandle;
 * const handles = new Map([["w1", worker("w1")], ["w2", worker("w2")]]);
 * const peers = new PeerPorts(handles);
 * peers.introduce("w1", "w2");
 * peers.introduce("w2", "w1"); // the same pair: nothing more
 * assert.deepEqual(handed, ["w2<-w1", "w1<-w2"]);
 * assert.equal(peers.switched("w1", "w2"), "relay"); // w1's marker goes on to w2, once
 * assert.equal(peers.switched("w1", "w2"), "refuse");
 * assert.equal(peers.switched("w1", "w3"), "refuse"); // no such pair
 * assert.deepEqual(peers.forget("w2"), ["w1"]);
 * assert.deepEqual(peers.forget("w1"), []);
 * assert.equal(peers.switched("w1", "w2"), "late"); // a marker still on its way: no harm
 * ```
 */
export class PeerPorts {
  readonly #handles: ReadonlyMap<string, InstanceHandle>;
  /** Node → the nodes it holds a direct channel to. */
  readonly #pairs = new Map<string, Set<string>>();
  /** `from\nto`: node `from` sent its switch marker toward `to` (one per direction per pair). */
  readonly #switched = new Set<string>();
  /**
   * Nodes paired once and forgotten since, the latest {@linkcode GONE_KEPT} (node ids are never
   * reused): a marker still on its way from or toward one is late, not forged.
   */
  readonly #gone = new Set<string>();

  /** @param handles The hub's child nodes' handles, by node id. */
  constructor(handles: ReadonlyMap<string, InstanceHandle>) {
    this.#handles = handles;
  }

  /**
   * The hub relayed something from node `from` to node `to`: if both are ready workers of this
   * hub not yet linked, each gets its end of a new channel. What the hub has already queued for
   * `to` leaves before its port does.
   */
  introduce(from: string, to: string): void {
    if (this.#pairs.get(from)?.has(to)) return;
    const a = this.#handles.get(from);
    const b = this.#handles.get(to);
    const portA = a?.ready ? a.portLink : null;
    const portB = b?.ready ? b.portLink : null;
    // Nested nodes (`p1/w2`) are their parent's business; processes have no port to hand over.
    if (!a || !b || !portA || !portB || from.includes("/") || to.includes("/")) return;
    this.#pair(from, to);
    this.#pair(to, from);
    const channel = new MessageChannel();
    portB.flush();
    portB.handOver(from, channel.port2);
    portA.handOver(to, channel.port1);
    // A port posted to a worker that has silently died is never taken over: close it here once
    // either end is gone (closing a port that was transferred does nothing).
    Promise.race([a.gone, b.gone]).then(() => {
      channel.port1.close();
      channel.port2.close();
    });
  }

  /**
   * Node `from` says it holds its port to `to` now (a `switch` marker): `relay` the first time for
   * a pair this hub introduced (the marker goes on to `to`); `late` when one of the two is gone
   * meanwhile (nothing to do); `refuse` for any other (no such pair, or said before): a child cannot
   * make a worker it has no channel with hold anything.
   */
  switched(from: string, to: string): "relay" | "late" | "refuse" {
    if (!this.#pairs.get(from)?.has(to)) {
      return this.#gone.has(to) || this.#gone.has(from) ? "late" : "refuse";
    }
    const key = `${from}\n${to}`;
    if (this.#switched.has(key)) return "refuse";
    this.#switched.add(key);
    return "relay";
  }

  /** Node `node` is gone: the nodes it was linked to (they must drop their end), forgotten. */
  forget(node: string): string[] {
    const partners = this.#pairs.get(node);
    if (!partners) return [];
    this.#pairs.delete(node);
    this.#gone.add(node);
    if (this.#gone.size > GONE_KEPT) this.#gone.delete(this.#gone.values().next().value!);
    for (const other of partners) {
      this.#pairs.get(other)?.delete(node);
      this.#switched.delete(`${node}\n${other}`);
      this.#switched.delete(`${other}\n${node}`);
    }
    return [...partners];
  }

  #pair(from: string, to: string): void {
    let set = this.#pairs.get(from);
    if (!set) this.#pairs.set(from, set = new Set());
    set.add(to);
  }
}
