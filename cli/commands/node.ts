/**
 * `kraken node`: a host agent. Root runtimes list it under `hosts:` and place their
 * `mode: remote` containers on it; it runs them as local processes or workers under its own
 * supervisor, from modules under `--root` only, never with more than `--max-permissions`.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { parseDuration } from "../../config/duration.ts";
import { validatePermissions } from "../../config/permissions.ts";
import { TOPOLOGY_PATTERNS } from "../../config/topology.ts";
import { Runtime } from "../../runtime/runtime.ts";
import type { Command } from "../command.ts";
import { CliError, EXIT, usageError } from "../exit.ts";
import { hostName, jsonLogLine, LOG_FORMAT_FLAG, logFormat } from "../_log_format.ts";

/**
 * `kraken node --listen tcp://0.0.0.0:7071 --secret $KRAKEN_SECRET --name node-b --root /srv/app`.
 *
 * @example
 * ```sh
 * kraken node --listen tcp://0.0.0.0:7071 --name node-b --root /srv/app \
 *   --max-permissions '{"net": ["db.internal:5432"], "read": ["/srv/app/data"]}'
 * ```
 */
export const node: Command = {
  name: "node",
  args: "",
  summary: "run a host agent that root runtimes place mode: remote containers on",
  description: "It listens for root runtimes (which name it under hosts: with the same name " +
    "and secret), runs the containers they place as local processes (or workers) under its own " +
    "supervisor, and stops them when the root that placed them is lost (it is placed elsewhere). " +
    "It runs only modules under --root (or jsr:/npm: specifiers) — code is never shipped — and " +
    "refuses any grant outside --max-permissions with PermissionEscalationError. Prints the " +
    "address it listens on; Ctrl-C stops it and what it runs.",
  flags: {
    listen: {
      type: "string",
      value: "URL",
      description: "where root runtimes link to it (default tcp://127.0.0.1:7071; :0 picks a port)",
    },
    secret: {
      type: "string",
      value: "SECRET",
      description: "the shared secret of the application's links (default $KRAKEN_SECRET)",
    },
    name: {
      type: "string",
      value: "NAME",
      description: "its name: the key of hosts: in the root's topology (default: the hostname)",
    },
    root: {
      type: "string",
      value: "DIR",
      description: "the folder whose modules it may run (default: the working directory)",
    },
    "log-format": LOG_FORMAT_FLAG,
    "max-permissions": {
      type: "string",
      value: "JSON",
      description:
        'the widest grant it gives, e.g. \'{"net":true,"read":["/srv"]}\' (default: none)',
    },
    keepalive: {
      type: "string",
      value: "MS",
      description:
        "its lease: silent this long, a root is lost and what it placed stops; the root moves " +
        "a lost agent's containers only after it, so keep it at the root's keepalive (default 5000)",
    },
  },
  examples: [
    "kraken node --listen tcp://0.0.0.0:7071 --name node-b --root /srv/app",
    "KRAKEN_SECRET=... kraken node --name node-c --max-permissions '{\"net\":true}'",
  ],
  async run({ positionals, flags }, io) {
    if (positionals.length > 0) throw usageError("node", `unexpected argument "${positionals[0]}"`);
    const str = (key: string) => typeof flags[key] === "string" ? flags[key] as string : undefined;
    const secret = str("secret") ?? Deno.env.get("KRAKEN_SECRET");
    if (!secret) {
      throw usageError("node", "needs --secret (or KRAKEN_SECRET): the links' shared secret");
    }
    // Default: the host name up to its first dot (a runtime name holds no dots).
    const name = str("name") ?? Deno.hostname().split(".")[0];
    if (!new RegExp(TOPOLOGY_PATTERNS.name).test(name)) {
      const what = str("name") === undefined ? `the host name "${name}"` : `--name "${name}"`;
      throw usageError(
        "node",
        `${what} is not a runtime name (a letter, then letters, digits, "_" or "-"); pass --name`,
      );
    }
    const listen = str("listen") ?? "tcp://127.0.0.1:7071";
    if (!/^(tcp|ws|wss|unix):\/\/./.test(listen)) {
      throw usageError(
        "node",
        `--listen ${listen}: expected tcp://host:port, ws://host:port, wss://host:port or unix:///path`,
      );
    }
    const rootArg = str("root") ?? Deno.cwd();
    const root = await Deno.realPath(rootArg).catch(() => "");
    if (!root || !(await Deno.stat(root)).isDirectory) {
      throw usageError("node", `--root ${rootArg} is not a folder`);
    }
    let max: unknown = {};
    if (str("max-permissions")) {
      try {
        max = JSON.parse(str("max-permissions")!);
      } catch {
        throw usageError("node", "--max-permissions must be JSON, e.g. '{\"net\":true}'");
      }
    }
    const grant = validatePermissions(max, root);
    if (!grant.ok) {
      const key = grant.issue.key ? `${grant.issue.key}: ` : "";
      throw usageError("node", `--max-permissions: ${key}${grant.issue.message}`);
    }
    // A bare number is ms; a duration as in kraken.yaml (1s, 500ms) works too.
    const keepaliveArg = str("keepalive") ?? "5000";
    const keepalive = /^\d+$/.test(keepaliveArg)
      ? Number(keepaliveArg)
      : parseDuration(keepaliveArg) ?? NaN;
    if (!Number.isInteger(keepalive) || keepalive < 50) {
      throw usageError("node", `--keepalive must be ms (>= 50) or a duration like 1s`);
    }
    const format = logFormat("node", flags["log-format"]);
    let rt: Runtime;
    try {
      rt = await Runtime.start({
        name,
        // Placed containers restart under this supervisor without limit (with backoff): one
        // container failing for good must not take the agent, and everything else, down.
        supervisor: { intensity: 1_000_000, period: "1s" },
        transports: {
          name,
          listen,
          secret,
          keepalive,
        },
        containers: {},
      }, {
        baseUrl: pathToFileURL(`${root}/`).href, // percent-encoded: a root may hold spaces, "%"
        agent: { root, maxPermissions: grant.value, lease: keepalive },
        logLevel: io.json ? "warn" : "info",
        ...(format === "json"
          ? { logger: (entry) => io.error(jsonLogLine(entry, { host: hostName(), runtime: name })) }
          : {}),
      });
    } catch (error) {
      throw new CliError(EXIT.failed, `node: cannot start: ${(error as Error).message}`);
    }
    if (io.json) io.printJson({ type: "listening", name, url: rt.listening?.href, root });
    else io.print(`kraken node "${name}" listening on ${rt.listening?.href} (root ${root})`);
    const stop = () => rt.shutdown();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    await rt.closed;
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    return EXIT.ok;
  },
};
