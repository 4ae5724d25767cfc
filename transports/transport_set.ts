/**
 * The transports one runtime uses, by URL scheme: its links to other runtimes are listened for and
 * dialed through this set, never through anything global. It accepts from a transport only links
 * that `linkOver` made (so every link has proven the secret).
 *
 * @module
 */
import { andMore, Throttle } from "./_accept.ts";
import type { Link } from "./link.ts";
import { openLink } from "./link_over.ts";
import type {
  Listener,
  ListenOptions,
  Transport,
  TransportLink,
  TransportOptions,
} from "./transport.ts";

const SCHEME = /^[a-z][a-z0-9+.-]*$/;

/** Options of {@linkcode TransportSet.listen}: links arrive typed for the runtime. */
export interface SetListenOptions extends Omit<ListenOptions, "onLink" | "onRefused"> {
  /** Called with each authenticated incoming link. */
  onLink(link: Link, peer: string): void;
  /**
   * Called when incoming connections are refused, at most once a second: anyone who can reach
   * the port can make refusals, and one log line each would let a flood wipe a log's history.
   * The first refusal is reported at once; those of the following second are reported when it is
   * over, as the last of them, its message ending with how many more it stands for
   * (`… (and 41 more refused in the last second)`); `more` is that count.
   */
  onRefused?(error: Error, peer: string, more: number): void;
}

/**
 * A runtime's transports, indexed by scheme.
 *
 * @example Listening and dialing through a set
 * ```ts
 * import assert from "node:assert/strict";
 * import { TransportSet } from "./transport_set.ts";
 * import { memory } from "./memory.ts";
 * import { tcp } from "./tcp.ts";
 *
 * const set = new TransportSet([tcp(), memory()]);
 * assert.deepEqual(set.schemes, ["tcp", "memory"]);
 * assert.throws(() => set.transportFor(new URL("quic://a")), {
 *   message: 'no transport for "quic://" (this runtime\'s transports: tcp://, memory://)',
 * });
 * const listener = await set.listen("memory://set-example", { secret: "s", onLink() {} });
 * const link = await set.dial("memory://set-example", { secret: "s" });
 * link.close();
 * await listener.close();
 * assert.throws(() => new TransportSet([tcp(), tcp()]), TypeError);
 * ```
 */
export class TransportSet {
  readonly #bySchemes = new Map<string, Transport>();

  /**
   * @param transports The transports, each serving the schemes it names.
   * @throws {TypeError} When one is not a transport, names a malformed scheme, or two serve the
   *   same scheme.
   */
  constructor(transports: readonly Transport[]) {
    if (!Array.isArray(transports)) {
      throw new TypeError(`transports must be a list of transports, got ${typeof transports}`);
    }
    transports.forEach((transport, index) => {
      const at = `transports[${index}]`;
      if (
        typeof transport !== "object" || transport === null ||
        typeof transport.listen !== "function" || typeof transport.dial !== "function" ||
        !Array.isArray(transport.schemes) || transport.schemes.length === 0
      ) {
        throw new TypeError(
          `${at} is not a transport: expected { schemes: ["…"], listen(url, options), dial(url, options) }`,
        );
      }
      for (const scheme of transport.schemes) {
        if (typeof scheme !== "string" || !SCHEME.test(scheme)) {
          throw new TypeError(
            `${at}.schemes: ${
              JSON.stringify(scheme)
            } is not a URL scheme; expected lower case, a letter then letters, digits, "+", "-" or ".", without ":"`,
          );
        }
        if (this.#bySchemes.has(scheme)) {
          throw new TypeError(
            `${at}: "${scheme}://" is served by an earlier transport too; give each scheme one transport`,
          );
        }
        this.#bySchemes.set(scheme, transport);
      }
    });
  }

  /** The schemes served, in the order given. */
  get schemes(): string[] {
    return [...this.#bySchemes.keys()];
  }

  /**
   * The transport for `url`'s scheme.
   * @throws {TypeError} When none serves it.
   */
  transportFor(url: URL): Transport {
    const transport = this.#bySchemes.get(url.protocol.slice(0, -1));
    if (!transport) {
      throw new TypeError(
        `no transport for "${url.protocol}//" (this runtime's transports: ${
          this.schemes.map((s) => `${s}://`).join(", ") || "none"
        })`,
      );
    }
    return transport;
  }

  /**
   * Listens on `url` with the transport of its scheme.
   * @throws {TypeError} When no transport serves its scheme.
   */
  async listen(url: string | URL, options: SetListenOptions): Promise<Listener> {
    const u = new URL(url);
    const transport = this.transportFor(u);
    const onRefused = options.onRefused;
    const refusals = new Throttle<[Error, string]>(([error, peer], more) => {
      if (more === 0) return onRefused?.(error, peer, 0);
      // The same kind of error (its class, for whoever checks it), saying how many it stands for.
      const summary = new Error(`${error.message}${andMore(more, "refused in the last second")}`);
      Object.setPrototypeOf(summary, Object.getPrototypeOf(error));
      summary.name = error.name;
      onRefused?.(summary, peer, more);
    });
    const refused = (error: Error, peer: string) => refusals.note([error, peer]);
    const listener = await transport.listen(u, {
      ...options,
      onLink: (handed, peer) => {
        const link = openLink(handed);
        if (link) return options.onLink(link, peer);
        handed.close();
        refused(notMadeByLinkOver(u, "listen"), peer);
      },
      onRefused: refused,
    });
    return {
      url: listener.url,
      async close() {
        await listener.close();
        refusals.close();
      },
    };
  }

  /**
   * Dials `url` with the transport of its scheme; resolves once authenticated.
   * @throws {TypeError} When no transport serves its scheme, or the transport handed back a link
   *   `linkOver` did not make.
   */
  async dial(url: string | URL, options: TransportOptions): Promise<Link> {
    const u = new URL(url);
    const handed: TransportLink = await this.transportFor(u).dial(u, options);
    const link = openLink(handed);
    if (link) return link;
    handed.close();
    throw notMadeByLinkOver(u, "dial");
  }
}

function notMadeByLinkOver(url: URL, where: "listen" | "dial"): TypeError {
  return new TypeError(
    `the ${url.protocol}// transport's ${where} handed over a link that linkOver() did not make; ` +
      "a transport's links must come from linkOver (both sides prove the secret there)",
  );
}
