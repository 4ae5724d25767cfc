/**
 * A link over `postMessage`: a `Worker` seen from its host, the worker's own global scope, or a
 * `MessagePort` of a direct worker-to-worker `MessageChannel`.
 *
 * Batches travel as arrays by structured clone (faster than msgpack inside one process); bodies
 * were already checked and copied by the sender, so nothing non-cloneable reaches `postMessage`.
 *
 * @module
 */
import type { Envelope } from "../protocol/envelope.ts";
import { BatchingLink } from "./link.ts";

/** Anything that speaks `postMessage`/`onmessage`. */
export interface MessageEndpoint {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

/** A port handed over for a direct link to another node. */
export interface PortHandover {
  /** The node at the other end of the port. */
  node: string;
  /** The port. */
  port: MessagePort;
}

/** An envelope link over a postMessage endpoint. */
export class PortLink extends BatchingLink {
  /** Envelopes arrive as structured clones: their values may share or cycle references. */
  readonly clones = true;
  readonly #endpoint: MessageEndpoint;
  readonly #onRelease: () => void;
  /** Receives ports handed over for direct links. */
  onPort: (handover: PortHandover) => void = () => {};

  /**
   * @param endpoint The endpoint to wrap; its `onmessage` is taken over.
   * @param onRelease Called when the link closes (e.g. to terminate a worker or close a port).
   */
  constructor(endpoint: MessageEndpoint, onRelease: () => void = () => {}) {
    super();
    this.#endpoint = endpoint;
    this.#onRelease = onRelease;
    endpoint.onmessage = (event: MessageEvent) => {
      const data = event.data;
      if (Array.isArray(data)) this.deliver(data as Envelope[]);
      else if (data && typeof data === "object" && "krakenPort" in data) {
        this.onPort({ node: String(data.krakenPort), port: data.port as MessagePort });
      }
    };
  }

  /** Hands `port` to the other side as a direct link to `node`. */
  handOver(node: string, port: MessagePort): void {
    this.#endpoint.postMessage({ krakenPort: node, port }, [port]);
  }

  /** Marks the link closed because the other side is known to be gone. */
  lost(error?: Error): void {
    this.finish(error ? { kind: "error", error } : { kind: "eof" });
  }

  protected postBatch(batch: Envelope[]): void {
    this.#endpoint.postMessage(batch);
  }

  protected release(): void {
    this.#endpoint.onmessage = null;
    this.#onRelease();
  }
}
