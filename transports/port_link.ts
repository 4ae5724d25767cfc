/**
 * A link over `postMessage`: a `Worker` seen from its host, the worker's own global scope, or a
 * `MessagePort` of a direct worker-to-worker `MessageChannel`.
 *
 * Batches travel as arrays by structured clone (faster than msgpack inside one process); bodies
 * were already checked and copied by the sender, so nothing non-cloneable reaches `postMessage`.
 * Except a routing table: the hub sends the same table to every node at each change, and a
 * structured clone per node made that quadratic in the nodes (400 clones of a 400-container
 * table: ~160 ms of the host's thread per change). A `routes` envelope is encoded once (msgpack,
 * as a process link would) and every link posts the same bytes, a copy of which is cheap.
 * Plain requests and replies travel as tuples (`protocol/envelope_pack.ts`): both ends of a port
 * run this same code, and a clone of a tuple costs less than of an object with six keys.
 *
 * @module
 */
import type { Envelope } from "../protocol/envelope.ts";
import { decodeMsgpack, MsgpackEncoder } from "../protocol/msgpack.ts";
import { packEnvelope, unpackEnvelope } from "../protocol/envelope_pack.ts";
import { BatchingLink } from "./link.ts";

/** The bytes of each `routes` envelope sent, made by the first link that posts it. */
const encodedTables = new WeakMap<Envelope, Uint8Array>();
const tableEncoder = new MsgpackEncoder();

/** A `routes` envelope as it crosses a port: its table as msgpack bytes. */
interface PackedTable {
  k: "routes";
  rb: Uint8Array;
}

/** An envelope as it crosses a port: a hot kind as a tuple, a table as bytes. */
function pack(env: Envelope): unknown {
  return env.k === "routes" ? packTable(env) : packEnvelope(env);
}

function packTable(env: Envelope): Envelope | PackedTable {
  if (env.k !== "routes") return env;
  let bytes = encodedTables.get(env);
  if (!bytes) {
    bytes = tableEncoder.encode(env.r).slice();
    encodedTables.set(env, bytes);
  }
  return { k: "routes", rb: bytes };
}

/** A received item, its table decoded (a table that does not decode is left out: the edge refuses). */
function unpackTable(item: unknown): unknown {
  const packed = item as Partial<PackedTable> | null;
  if (packed?.k !== "routes" || !(packed.rb instanceof Uint8Array)) return item;
  try {
    return { k: "routes", r: decodeMsgpack(packed.rb) };
  } catch {
    return { k: "routes" };
  }
}

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
      if (Array.isArray(data)) {
        for (let i = 0; i < data.length; i++) {
          const item = data[i];
          if (Array.isArray(item)) data[i] = unpackEnvelope(item);
          else if (item?.k === "routes") data[i] = unpackTable(item);
        }
        this.deliver(data as Envelope[]);
      } else if (data && typeof data === "object" && "krakenPort" in data) {
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
    const items = new Array<unknown>(batch.length);
    for (let i = 0; i < batch.length; i++) items[i] = pack(batch[i]);
    this.#endpoint.postMessage(items);
  }

  protected release(): void {
    this.#endpoint.onmessage = null;
    this.#onRelease();
  }
}
