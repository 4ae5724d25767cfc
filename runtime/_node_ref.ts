/**
 * A {@linkcode ContainerRef} bound to the node it sends from.
 *
 * @module
 */
import type { ContainerRef, RequestOptions, SendOptions } from "./container.ts";

/** What a reference sends through (a node). */
export interface Sender {
  /** Sends a request to container `name` and waits for its reply. */
  request(name: string, topic: string, body: unknown, options?: RequestOptions): Promise<unknown>;
  /** Sends a message to container `name` without waiting. */
  send(name: string, topic: string, body: unknown, options?: SendOptions): void;
}

/** A {@linkcode ContainerRef} bound to one node: a bad argument is a rejected promise, not a throw. */
export class NodeRef implements ContainerRef {
  readonly name: string;
  readonly #node: Sender;

  /**
   * @param node The node it sends from.
   * @param name The container it addresses.
   */
  constructor(node: Sender, name: string) {
    this.#node = node;
    this.name = name;
  }

  /** Sends a request and waits for its reply. */
  request(topic: string, body?: unknown, options?: RequestOptions): Promise<unknown> {
    try {
      return this.#node.request(this.name, topic, body, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends a message without waiting. */
  send(topic: string, body?: unknown, options?: SendOptions): void {
    this.#node.send(this.name, topic, body, options);
  }
}
