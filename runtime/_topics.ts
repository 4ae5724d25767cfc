/**
 * Publish/subscribe at one node: the subscribers in this isolate, the linked nodes that asked for
 * a topic on behalf of subscribers at or below them, and where a publication goes from here. The
 * hub fans every publication out (to its subscribers, the nodes that asked, and once to each peer
 * runtime); a node below it hands what its own containers publish up to the hub, and subscribes
 * upstream while anything at or below it wants a topic.
 *
 * @module
 */
import type { Envelope } from "../protocol/envelope.ts";
import type { Link } from "../transports/link.ts";
import type { MessageMeta } from "./container.ts";

/** A subscriber in this isolate. */
export type Subscriber = (body: unknown, meta: MessageMeta) => void;

/** What the subscriptions need from their node. */
export interface TopicsSite {
  /** The node's id. */
  readonly id: string;
  /** Whether it is the hub. */
  readonly isHub: boolean;
  /** Its links by node id (the node's own map: it changes as nodes come and go). */
  readonly links: ReadonlyMap<string, Link>;
  /** Its link to the hub, if it has one yet. */
  upstream(): Link | null;
}

/**
 * One node's subscriptions, and the routing of publications through it.
 *
 * @example A worker's node subscribes upstream once, and delivers what the hub sends down
 * ```ts
 * import assert from "node:assert/strict";
 * import { Topics } from "./_topics.ts";
 * import type { Envelope } from "../protocol/envelope.ts";
 *
 * const sent: Envelope[] = [];
 * const upstream = { send: (env: Envelope) => sent.push(env) } as never;
 * const topics = new Topics({ id: "w1", isHub: false, links: new Map(), upstream: () => upstream });
 * const got: unknown[] = [];
 * const off = topics.subscribe("news", (body) => got.push(body));
 * topics.subscribe("news", () => {});
 * assert.deepEqual(sent, [{ k: "sub", t: "news" }]);
 * topics.route({ k: "pub", t: "news", b: 1 }, "host");
 * assert.deepEqual(got, [1]);
 * off();
 * assert.equal(sent.length, 1); // the other subscriber still wants it
 * ```
 */
export class Topics {
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  readonly #nodes = new Map<string, Set<string>>();
  readonly #site: TopicsSite;

  /** @param site The node. */
  constructor(site: TopicsSite) {
    this.#site = site;
  }

  /** Whether anything at or below this node listens to `topic`. */
  wants(topic: string): boolean {
    return (this.#subscribers.get(topic)?.size ?? 0) > 0 ||
      (this.#nodes.get(topic)?.size ?? 0) > 0;
  }

  /** Subscribes here (and, below the hub, upstream when first wanted); returns the unsubscribe. */
  subscribe(topic: string, subscriber: Subscriber): () => void {
    const wanted = this.wants(topic);
    let set = this.#subscribers.get(topic);
    if (!set) this.#subscribers.set(topic, set = new Set());
    set.add(subscriber);
    if (!this.#site.isHub && !wanted) this.#site.upstream()?.send({ k: "sub", t: topic });
    return () => {
      const current = this.#subscribers.get(topic);
      if (!current?.delete(subscriber) || current.size > 0) return;
      this.#subscribers.delete(topic);
      if (!this.#site.isHub && !this.wants(topic)) {
        this.#site.upstream()?.send({ k: "unsub", t: topic });
      }
    };
  }

  /** Node `from` subscribes to or unsubscribes from a topic. */
  note(env: Extract<Envelope, { k: "sub" | "unsub" }>, from: string): void {
    const before = this.wants(env.t);
    let nodes = this.#nodes.get(env.t);
    if (env.k === "sub") {
      if (!nodes) this.#nodes.set(env.t, nodes = new Set());
      nodes.add(from);
    } else nodes?.delete(from);
    // A middle node subscribes upstream on behalf of the nodes below it.
    if (!this.#site.isHub && before !== this.wants(env.t)) this.#site.upstream()?.send(env);
  }

  /** Forgets node `id`'s subscriptions (its link is gone). */
  dropNode(id: string): void {
    for (const nodes of this.#nodes.values()) nodes.delete(id);
  }

  /** Routes a publication that came from node `from` (this node's id for its own). */
  route(env: Extract<Envelope, { k: "pub" }>, from: string): void {
    const site = this.#site;
    if (!site.isHub && from !== "host" && from !== site.id) {
      // From below: the hub fans it out to everyone, this node included.
      site.upstream()?.send(env);
      return;
    }
    const subscribers = this.#subscribers.get(env.t);
    if (subscribers) {
      const meta: MessageMeta = { topic: env.t, kind: "publish" };
      for (const subscriber of [...subscribers]) subscriber(env.b, meta);
    }
    if (!site.isHub && from === site.id) return;
    const nodes = this.#nodes.get(env.t);
    if (nodes) { for (const node of nodes) site.links.get(node)?.send(env); }
    // The hub hands its application's publications to peer runtimes (not back to one).
    if (site.isHub && !from.startsWith("@")) {
      for (const [id, link] of site.links) if (id.startsWith("@")) link.send(env);
    }
  }
}
