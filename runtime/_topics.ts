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

/**
 * Most topics one linked node may subscribe to through this node: past it, a `sub` for a new
 * topic is refused as a violation (a node below speaks for its whole subtree).
 */
export const MAX_NODE_TOPICS = 10_000;
/** Most characters of topic names one linked node may have this node hold. */
export const MAX_NODE_TOPIC_CHARS = 1_048_576;

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
  /** Node `from` asked for more than it may (too many topics): the `sub` was dropped. */
  refuse(from: string, what: string): void;
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
 * const topics = new Topics({
 *   id: "w1",
 *   isHub: false,
 *   links: new Map(),
 *   upstream: () => upstream,
 *   refuse: () => {},
 * });
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
  /** Topic → the linked nodes that want it (a topic no node wants has no key). */
  readonly #nodes = new Map<string, Set<string>>();
  /** Linked node → the topics it wants, and their length in all. */
  readonly #byNode = new Map<string, { topics: Set<string>; chars: number }>();
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

  /**
   * Node `from` subscribes to or unsubscribes from a topic. A node may want at most
   * {@linkcode MAX_NODE_TOPICS} topics of {@linkcode MAX_NODE_TOPIC_CHARS} characters in all
   * here: a `sub` past that is refused.
   */
  note(env: Extract<Envelope, { k: "sub" | "unsub" }>, from: string): void {
    const before = this.wants(env.t);
    if (env.k === "sub") {
      if (!this.#add(env.t, from)) return;
    } else this.#remove(env.t, from);
    // A middle node subscribes upstream on behalf of the nodes below it.
    if (!this.#site.isHub && before !== this.wants(env.t)) this.#site.upstream()?.send(env);
  }

  /** Forgets node `id`'s subscriptions (its link is gone). */
  dropNode(id: string): void {
    const mine = this.#byNode.get(id);
    if (!mine) return;
    for (const topic of mine.topics) {
      this.#remove(topic, id);
      if (!this.#site.isHub && !this.wants(topic)) {
        this.#site.upstream()?.send({ k: "unsub", t: topic });
      }
    }
  }

  /** Topics the linked nodes want, in all (each counted once). */
  get nodeTopics(): number {
    return this.#nodes.size;
  }

  #add(topic: string, node: string): boolean {
    let mine = this.#byNode.get(node);
    if (mine?.topics.has(topic)) return true;
    const count = mine?.topics.size ?? 0;
    const chars = mine?.chars ?? 0;
    if (count >= MAX_NODE_TOPICS || chars + topic.length > MAX_NODE_TOPIC_CHARS) {
      this.#site.refuse(
        node,
        `a subscription past the ${MAX_NODE_TOPICS} topics (${MAX_NODE_TOPIC_CHARS} characters of names) one node may hold here`,
      );
      return false;
    }
    if (!mine) this.#byNode.set(node, mine = { topics: new Set(), chars: 0 });
    mine.topics.add(topic);
    mine.chars += topic.length;
    let nodes = this.#nodes.get(topic);
    if (!nodes) this.#nodes.set(topic, nodes = new Set());
    nodes.add(node);
    return true;
  }

  #remove(topic: string, node: string): void {
    const mine = this.#byNode.get(node);
    if (!mine?.topics.delete(topic)) return;
    mine.chars -= topic.length;
    if (mine.topics.size === 0) this.#byNode.delete(node);
    const nodes = this.#nodes.get(topic)!;
    nodes.delete(node);
    if (nodes.size === 0) this.#nodes.delete(topic);
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
