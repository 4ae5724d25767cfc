/**
 * A {@linkcode ContainerRef} bound to the node it sends from.
 *
 * @module
 */
import type {
  ContainerRef,
  EntityRef,
  EntityRequestOptions,
  EntitySendOptions,
  RequestOptions,
  SendOptions,
} from "./container.ts";
import { entityIdProblem } from "../protocol/entity_owner.ts";

/** What a reference sends through (a node). */
export interface Sender {
  /** Sends a request to container `name` (entity `entity` of it) and waits for its reply. */
  request(
    name: string,
    topic: string,
    body: unknown,
    options?: RequestOptions,
    entity?: string,
  ): Promise<unknown>;
  /** Sends a message to container `name` (entity `entity` of it) without waiting. */
  send(
    name: string,
    topic: string,
    body: unknown,
    options?: SendOptions,
    entity?: string,
  ): void;
}

/**
 * Checks an entity id given to `ref.entity(id)`.
 * @throws {TypeError} It is not a string. @throws {RangeError} It is empty or too long.
 */
export function checkEntityId(id: unknown): asserts id is string {
  const problem = entityIdProblem(id);
  if (problem === null) return;
  throw typeof id === "string" ? new RangeError(problem) : new TypeError(problem);
}

/** An {@linkcode EntityRef} bound to one sender: a bad argument is a rejected promise. */
export class SenderEntityRef implements EntityRef {
  readonly container: string;
  readonly id: string;
  readonly #node: Sender;

  /**
   * @param node The sender.
   * @param container The container hosting the entity.
   * @param id The entity id (checked).
   */
  constructor(node: Sender, container: string, id: string) {
    checkEntityId(id);
    this.#node = node;
    this.container = container;
    this.id = id;
  }

  /** Sends a request to the entity and waits for its reply. */
  request(topic: string, body?: unknown, options?: EntityRequestOptions): Promise<unknown> {
    try {
      return this.#node.request(this.container, topic, body, options, this.id);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends a message to the entity without waiting. */
  send(topic: string, body?: unknown, options?: EntitySendOptions): void {
    this.#node.send(this.container, topic, body, options, this.id);
  }
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

  /** A handle to entity `id` of this container. */
  entity(id: string): EntityRef {
    return new SenderEntityRef(this.#node, this.name, id);
  }
}
