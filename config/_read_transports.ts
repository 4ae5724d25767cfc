/**
 * `transports:`, the links between runtimes: this runtime's name, the shared secret, `listen:`,
 * TLS files, keepalive, the largest frame, and `transports.nats:` servers and credentials. Secrets
 * and credentials are never echoed in a message.
 *
 * @module
 */
import { DEFAULTS } from "./_shape.ts";
import { describe, describeSecret } from "./_describe.ts";
import { NAME, NAME_RULE, type Path, type Reader } from "./_reader.ts";
import type { TransportsSpec } from "./model.ts";

/** What a NATS subject token may not hold: whitespace, `.`, and the wildcards `*`, `>`. */
const NATS_TOKEN = /^[^\s.*>]+$/;

/**
 * A `transports:` block, `undefined` when there is none and none is needed (no `hosts:`).
 *
 * @param context The application's name (the runtime's name by default) and the hosts declared.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * import { readTransports } from "./_read_transports.ts";
 * const read = new Reader({ baseUrl: "file:///app/" });
 * const t = readTransports(read, { secret: "s3cret" }, { appName: "shop", hosts: {} });
 * assert.equal(t?.name, "shop");
 * assert.throws(() => readTransports(read, { secret: 42 }, { appName: "shop", hosts: {} }), /a number/);
 * ```
 */
export function readTransports(
  r: Reader,
  input: unknown,
  context: { appName: string; hosts: Record<string, { address: string }> },
): TransportsSpec | undefined {
  const { appName, hosts } = context;
  const path = ["transports"];
  if (input === undefined) {
    if (Object.keys(hosts).length > 0) {
      r.missing(
        path,
        "a transports: block with the shared secret, since hosts: joins other runtimes",
      );
    }
    return undefined;
  }
  r.notSecret(input, path, "transports");
  const t = r.block(input, path, "transports");
  const nats = t.nats === undefined ? undefined : readNats(r, t.nats, appName);
  // The secret authenticates direct links and signs NATS messages; a runtime that only uses NATS
  // may have none (NATS permissions are then its whole trust boundary).
  const linked = t.listen !== undefined || Object.keys(hosts).length > 0;
  if (t.secret === undefined && nats && !linked) {
    // Nothing to prove: NATS does its own authentication.
  } else if (t.secret === undefined) {
    r.missing(
      [...path, "secret"],
      nats
        ? `the shared secret direct links prove, since ${
          t.listen !== undefined ? "listen:" : "hosts:"
        } is set (e.g. secret: \${KRAKEN_SECRET}); NATS alone needs none`
        : "the shared secret links between runtimes prove (e.g. secret: ${KRAKEN_SECRET})",
    );
  } else if (typeof t.secret !== "string" || t.secret === "") {
    r.fail(
      [...path, "secret"],
      `expected a non-empty string, got ${describeSecret(t.secret)}`,
    );
  }
  if (t.name === undefined && !NAME.test(appName)) {
    r.missing(
      [...path, "name"],
      `a runtime name (${NAME_RULE}): the default, the application's name "${appName}", is not one`,
    );
  }
  const name = t.name ?? appName;
  if (typeof name !== "string" || !NAME.test(name)) {
    r.fail([...path, "name"], `expected a runtime name (${NAME_RULE}), got ${describe(name)}`);
  }
  const tls = t.tls === undefined ? undefined : r.block(t.tls, [...path, "tls"], "tls");
  const dir = new URL(".", r.options.baseUrl);
  const file = (key: "cert" | "key" | "ca") => {
    const v = tls?.[key];
    if (v === undefined) return undefined;
    return decodeURIComponent(
      new URL(r.string(v, [...path, "tls", key], "a file path"), dir).pathname,
    );
  };
  const d = DEFAULTS.transports;
  return {
    name,
    ...(t.listen === undefined
      ? {}
      : { listen: r.url(t.listen, [...path, "listen"], "tcp://127.0.0.1:7070") }),
    secret: (t.secret as string | undefined) ?? "",
    ...(tls
      ? {
        tls: Object.fromEntries(
          (["cert", "key", "ca"] as const).map((k) => [k, file(k)]).filter(([, v]) => v),
        ),
      }
      : {}),
    keepalive: r.duration(t.keepalive, [...path, "keepalive"], d.keepalive),
    maxFrame: r.size(t.max_frame, [...path, "max_frame"], d.maxFrame),
    ...(nats ? { nats } : {}),
  };
}

/** `transports.nats:` servers and credentials; credentials are never echoed. */
function readNats(r: Reader, input: unknown, appName: string): NonNullable<TransportsSpec["nats"]> {
  const path = ["transports", "nats"];
  r.notSecret(input, path, "nats");
  const n = r.block(input, path, "nats");
  if (!NATS_TOKEN.test(appName)) {
    r.fail(
      ["name"],
      `expected an application name usable in NATS subjects (no spaces, ".", "*" or ">"), since transports.nats is set; got ${
        describe(appName)
      }`,
    );
  }
  const spath = [...path, "servers"];
  if (n.servers === undefined) {
    r.missing(spath, "a list of NATS server URLs, such as [nats://127.0.0.1:4222]");
  }
  // One string may list several, comma-separated, as NATS tools take them (NATS_URL).
  const list = typeof n.servers === "string"
    ? n.servers.split(",").map((url) => url.trim())
    : n.servers;
  if (!Array.isArray(list) || list.length === 0) {
    r.fail(
      spath,
      `expected a NATS server URL or a list of them, such as [nats://127.0.0.1:4222], got ${
        Array.isArray(list) ? "an empty list" : describe(n.servers)
      }`,
    );
  }
  const servers = list.map((v, i) =>
    natsServer(r, v, typeof n.servers === "string" ? spath : [...spath, i])
  );
  const credential = (key: "user" | "password" | "token") => {
    const v = n[key];
    if (v !== undefined && (typeof v !== "string" || v === "")) {
      r.fail([...path, key], `expected a non-empty string, got ${describeSecret(v)}`);
    }
    return v as string | undefined;
  };
  const user = credential("user");
  const password = credential("password");
  const token = credential("token");
  if (user !== undefined && password === undefined) {
    r.missing([...path, "password"], "the password of user (e.g. password: ${NATS_PASSWORD})");
  }
  if (password !== undefined && user === undefined) {
    r.missing([...path, "user"], "the user the password belongs to (e.g. user: ${NATS_USER})");
  }
  const creds = n.creds === undefined ? undefined : decodeURIComponent(
    new URL(
      r.string(n.creds, [...path, "creds"], "a .creds file path"),
      new URL(".", r.options.baseUrl),
    ).pathname,
  );
  const ways = [user && "user", token && "token", creds && "creds"].filter(Boolean) as string[];
  if (ways.length > 1) {
    r.fail(
      [...path, ways[1]],
      `combines ${ways[1]} with ${
        ways[0]
      }; expected one way to log in: user and password, token, or creds`,
      "key",
    );
  }
  return {
    servers,
    ...(user !== undefined ? { user, password } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(creds !== undefined ? { creds } : {}),
  };
}

/** One NATS server URL: `nats://host[:port]`, without credentials (they would be logged). */
export function natsServer(r: Reader, value: unknown, path: Path): string {
  if (typeof value === "string" && /^[^/]*\/\/[^/]*@/.test(value)) {
    r.fail(
      path,
      "expected nats://host:port without credentials in it (URLs are logged); put them in transports.nats: user and password, or token",
    );
  }
  let url: URL | null = null;
  try {
    url = typeof value === "string" ? new URL(value) : null;
  } catch {
    // reported below
  }
  if (
    !url || url.protocol !== "nats:" || url.hostname === "" || !/^\/?$/.test(url.pathname) ||
    url.search !== "" || url.hash !== ""
  ) {
    r.fail(path, `expected a URL such as nats://127.0.0.1:4222, got ${describe(value)}`);
  }
  return value as string;
}
