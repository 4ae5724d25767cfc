/**
 * The JSON Schema (draft 2020-12) of `kraken.yaml`, for editors: with
 * `# yaml-language-server: $schema=./kraken.schema.json` on the first line of the file (and
 * `kraken schema > kraken.schema.json`), VS Code, Neovim, Helix, IntelliJ… complete every key,
 * show its description and flag unknown keys and bad values while typing.
 *
 * Built from the same tables the validator reads ({@linkcode TOPOLOGY_KEYS},
 * {@linkcode TOPOLOGY_VALUES}, {@linkcode TOPOLOGY_PATTERNS}, {@linkcode DEFAULTS},
 * `PERMISSION_KINDS`); each block's properties are typed by its key list, so a key added to the
 * validator without a schema entry (or the reverse) does not compile.
 *
 * The schema checks the shape; `validateTopology` remains the authority (unique names
 * across the tree, children within their parent's grant, hosts that exist, modules that exist).
 *
 * @module
 */
import { MAX_BUFFER, MAX_MAX_MEMORY, MAX_REPLICAS, MIN_MAX_MEMORY } from "./_limits.ts";
import { PERMISSION_KINDS, type PermissionKind } from "./permissions.ts";
import { UNSTABLE_FEATURES } from "./_unstable.ts";
import {
  DEFAULTS,
  type TOPOLOGY_KEYS,
  TOPOLOGY_PATTERNS,
  TOPOLOGY_VALUES,
  type TopologyBlock,
} from "./topology.ts";

type Schema = Record<string, unknown>;
/** One schema per key of a block: missing or extra keys are compile errors. */
type Properties<B extends TopologyBlock> = { [K in (typeof TOPOLOGY_KEYS)[B][number]]: Schema };

const ref = (name: string): Schema => ({ $ref: `#/$defs/${name}` });
/** Any scalar may be written as `${VAR}`, read from the environment when the topology loads. */
const orVariable = (schema: Schema): Schema[] => [schema, ref("variable")];
const duration = (description: string, fallback?: number): Schema => ({
  description: `${description} A duration: 250ms, 5s, 2m, or a number of milliseconds.${
    fallback === undefined ? "" : ` Default ${ms(fallback)}.`
  }`,
  ...(fallback === undefined ? {} : { default: ms(fallback) }),
  $ref: "#/$defs/duration",
});
const enumOf = (values: readonly string[], description: string, fallback?: string): Schema => ({
  description,
  ...(fallback === undefined ? {} : { default: fallback }),
  anyOf: orVariable({ enum: [...values] }),
});
const anyOfVariable = (schema: Schema): Schema => ({ anyOf: orVariable(schema) });
const wholeNumber = (description: string, fallback: number): Schema => ({
  description,
  default: fallback,
  anyOf: orVariable({ type: "integer", minimum: 0 }),
});

function ms(n: number): string {
  return n % 60_000 === 0 ? `${n / 60_000}m` : n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;
}

/**
 * The JSON Schema of a topology file, as a plain object ready for `JSON.stringify`.
 *
 * @returns A draft 2020-12 schema with every key described, `additionalProperties: false` on every
 *   block, and `children` recursive.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topologyJsonSchema } from "./schema.ts";
 * const schema = topologyJsonSchema();
 * assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
 * await Deno.writeTextFile("/tmp/kraken.schema.json", JSON.stringify(schema, null, 2));
 * ```
 */
export function topologyJsonSchema(): Record<string, unknown> {
  const sup = DEFAULTS.supervisor;
  const box = DEFAULTS.container;

  const topology: Properties<"topology"> = {
    name: {
      description: "The application's name (default kraken); also this runtime's name among its " +
        "peers unless transports.name says otherwise.",
      type: "string",
      minLength: 1,
      default: "kraken",
    },
    supervisor: {
      description: "The root supervisor: how it restarts the top-level containers.",
      ...ref("supervisor"),
    },
    containers: {
      description: "The containers, by name, started in this order and stopped in reverse. Names " +
        "are unique across the whole topology, children included.",
      ...ref("containerMap"),
    },
    transports: {
      description: "Links with the other runtimes of the same application.",
      ...ref("transports"),
    },
    management: {
      description: "The management API kraken start serves: where it listens and the token " +
        "every request must carry.",
      ...ref("management"),
    },
    hosts: {
      description: "Runtimes this one joins, by name (needs transports: with the shared secret).",
      type: "object",
      propertyNames: { pattern: TOPOLOGY_PATTERNS.name },
      additionalProperties: ref("host"),
    },
    placement: enumOf(
      TOPOLOGY_VALUES.placement,
      "How mode: remote containers without host: are placed on the agents of hosts: spread (the " +
        "agent running the fewest) or least_loaded (fewest containers, then least memory).",
      DEFAULTS.placement,
    ),
    schedule: {
      description: "Jobs on a clock, by name: each tick sends a request to a container, once " +
        "(from the root runtime only, never per replica). See docs/schedules.md.",
      type: "object",
      propertyNames: { pattern: TOPOLOGY_PATTERNS.name },
      additionalProperties: ref("schedule"),
    },
    leadership: {
      description: "Where the root's lease lives, for a standby root (kraken start --standby): " +
        "NATS JetStream key-value. See docs/distribution.md.",
      ...ref("leadership"),
    },
  };

  const supervisor: Properties<"supervisor"> = {
    strategy: enumOf(
      TOPOLOGY_VALUES.strategy,
      "Who restarts when a child fails: one_for_one (that child), one_for_all (all children), " +
        "rest_for_one (it and those started after it).",
      sup.strategy,
    ),
    intensity: wholeNumber(
      `Restarts allowed within period before the supervisor gives up and escalates (default ${sup.intensity}).`,
      sup.intensity,
    ),
    period: duration("The window intensity counts restarts in.", sup.period),
    backoff: {
      description: "Delay before each restart, growing from min to max.",
      ...ref("backoff"),
    },
  };

  const backoff: Properties<"backoff"> = {
    min: duration("First restart delay.", sup.backoff.min),
    max: duration("Largest restart delay (not below min).", sup.backoff.max),
    jitter: {
      description: `Random share added to each delay, 0 to 1 (default ${sup.backoff.jitter}).`,
      default: sup.backoff.jitter,
      anyOf: orVariable({ type: "number", minimum: 0, maximum: 1 }),
    },
  };

  const port = {
    anyOf: orVariable({ type: "integer", minimum: 0, maximum: 65535 }),
  };
  const container: Properties<"container"> = {
    module: {
      description: "The module whose default export is the container: a path relative to the " +
        "topology's folder, or a URL. Required.",
      type: "string",
      minLength: 1,
    },
    mode: enumOf(
      TOPOLOGY_VALUES.mode,
      "Where it runs: inline (in the runtime's isolate), worker (a Web Worker with its own " +
        "permissions), process (a Deno subprocess), remote (on a host agent of hosts:, started " +
        "with kraken node; its module is a path under the agent's --root).",
      box.mode,
    ),
    replicas: {
      description: `How many instances (default ${box.replicas}; at most ${MAX_REPLICAS}).`,
      default: box.replicas,
      anyOf: orVariable({ type: "integer", minimum: 0, maximum: MAX_REPLICAS }),
    },
    balance: enumOf(
      TOPOLOGY_VALUES.balance,
      "How messages are shared among replicas: round_robin, random, or key_hash (same key, same " +
        "replica).",
      box.balance,
    ),
    restart: enumOf(
      TOPOLOGY_VALUES.restart,
      "When it is restarted: permanent (always), transient (after an abnormal exit), temporary " +
        "(never).",
      box.restart,
    ),
    shutdown: duration("Graceful stop timeout; then it is killed.", box.shutdown),
    keepalive: duration(
      "A worker or process silent this long is declared unresponsive.",
      box.keepalive,
    ),
    permissions: {
      description: "What its sandbox allows (default: nothing). A kind left out is denied.",
      ...ref("permissions"),
    },
    unstable: {
      description: "Deno unstable features its code needs (default none): a process container " +
        "is started with --unstable-<name> for each; a worker or inline container shares the " +
        "runtime process's flags, which must include them (see docs/topology.md).",
      anyOf: [
        { enum: [...UNSTABLE_FEATURES] },
        { type: "array", items: { enum: [...UNSTABLE_FEATURES] } },
      ],
    },
    config: {
      description: "Any map, handed to the container as ctx.config (${VAR} is read in it too).",
      type: "object",
    },
    host: {
      description: "The host agent (from hosts:) it runs on, with mode: remote; without it the " +
        "placement policy chooses.",
      type: "string",
    },
    placement: enumOf(
      ["spread"],
      "With mode: remote: spread places each replica on its own agent (fewest of it first).",
    ),
    hosts: {
      description: "With placement: spread: the agents (from the top-level hosts:) it may use.",
      type: "array",
      items: { type: "string" },
      minItems: 1,
    },
    max_per_host: {
      description: "With placement: spread: at most this many of its replicas on one agent.",
      anyOf: orVariable({ type: "integer", minimum: 1 }),
    },
    rebalance: enumOf(
      ["manual", "auto"],
      "With placement: spread: auto moves replicas onto an agent as it links, one at a time.",
      "manual",
    ),
    runs_as: enumOf(
      TOPOLOGY_VALUES.runs_as,
      "With mode: remote: how the agent runs it, process (default) or worker.",
      "process",
    ),
    on_error: {
      description: "Rules by error class, first match wins; the built-in rules apply after them.",
      type: "array",
      items: ref("rule"),
    },
    buffer: {
      description:
        `Messages held for it per sender while it restarts; beyond that senders fail fast (default ${box.buffer}; at most ${MAX_BUFFER}).`,
      default: box.buffer,
      anyOf: orVariable({ type: "integer", minimum: 0, maximum: MAX_BUFFER }),
    },
    max_memory: {
      description: "Most memory an instance may use (a worker's isolate heap, a process's RSS); " +
        "one seen over it at a heartbeat is restarted with exit reason max_memory. Bytes, or " +
        "with a unit B, KiB, MiB, GiB (1MiB to 1024GiB). Not for inline containers.",
      anyOf: [
        { type: "integer", minimum: MIN_MAX_MEMORY, maximum: MAX_MAX_MEMORY },
        { type: "string", pattern: TOPOLOGY_PATTERNS.size },
        ref("variable"),
      ],
    },
    supervisor: {
      description: "Flags of the supervisor it is for its children.",
      ...ref("supervisor"),
    },
    children: {
      description: "Containers it supervises, by name, in start order; they run inside its " +
        "isolate and within its permissions.",
      ...ref("containerMap"),
    },
    serve: {
      description: "A port every replica serves (SO_REUSEPORT: the kernel spreads connections): " +
        "8080, or { port, hostname, protocol, websocket, max_message }. Its net grant and the unstable net feature " +
        "follow from it (see docs/serving.md).",
      anyOf: [port, ref("serve")],
    },
    entities: {
      description: "For a module made by entities(): idle time before an entity is passivated, " +
        "where its state goes (none, memory, file) and the file store's folder (see " +
        "docs/entities.md). Overrides the module's options.",
      ...ref("entities"),
    },
  };

  const entities: Properties<"entities"> = {
    idle: {
      description: "Passivate an entity after this long without a message (default 5m).",
      anyOf: [{ type: "string", pattern: TOPOLOGY_PATTERNS.duration }, { type: "number" }],
    },
    store: enumOf(
      TOPOLOGY_VALUES.store,
      "none: state lives only while active; memory: kept in the replica's isolate across " +
        "passivation (lost on restart or move); file: a file per entity under dir (needs the " +
        "container's read and write grant on it).",
      "none",
    ),
    dir: {
      description: "The file store's folder, relative to the topology's (default ./state).",
      type: "string",
      minLength: 1,
    },
    max: {
      description: "The most entities active at once in one replica; at the limit the least " +
        "recently used idle one is passivated to make room (default: no limit).",
      anyOf: orVariable({ type: "integer", minimum: 1 }),
    },
    on_error: enumOf(
      TOPOLOGY_VALUES.entity_on_error,
      "What a handler (or timer callback) that throws does to its entity: keep: the caller gets " +
        "the error and the entity stays active, its state as the handler left it; deactivate: " +
        "dropped without saving, the next message reloads the last saved state.",
      "keep",
    ),
  };

  const serve: Properties<"serve"> = {
    port: { description: "0 to 65535; 0: a free port the runtime picks once.", ...port },
    hostname: {
      description: "The interface to listen on (default 0.0.0.0).",
      type: "string",
      minLength: 1,
      default: "0.0.0.0",
    },
    protocol: enumOf(
      TOPOLOGY_VALUES.protocol,
      "http: the container's fetch (WebSocket upgrades included); tcp: its accept, called for " +
        "each connection.",
      "http",
    ),
    websocket: {
      description:
        "HTTP only: true serves through Deno.serveHttp, on which Deno.upgradeWebSocket " +
        "works (about half as fast); false (the default) serves on the fast path, where an upgrade " +
        "is refused with a 500.",
      type: "boolean",
      default: false,
    },
    max_message: {
      description: "With websocket: true, the most bytes one incoming WebSocket message may take " +
        "(1KiB to 64MiB, default 1MiB): a larger one closes the socket with 1009 before the " +
        "container sees it (Deno has read it whole by then).",
      default: "1MiB",
      ...ref("size"),
    },
  };

  const actions = { enum: [...TOPOLOGY_VALUES.action] };
  const rule: Properties<"rule"> = {
    match: {
      description: 'Error class names it matches (the class or an ancestor); "*" matches any.',
      anyOf: [
        { type: "string", minLength: 1 },
        { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
      ],
    },
    action: {
      description: "restart, resume, stop or escalate, optionally with log: e.g. [log, resume].",
      anyOf: [actions, { type: "array", minItems: 1, items: actions }],
    },
  };

  const t = DEFAULTS.transports;
  const transports: Properties<"transports"> = {
    name: {
      description: "This runtime's name among its peers (default: the application's name).",
      ...ref("name"),
    },
    listen: {
      description: "Where it accepts links: tcp://host:port, ws://host:port, unix:///path.",
      ...ref("url"),
    },
    secret: {
      description: "The shared secret every link proves before any message, usually " +
        "${KRAKEN_SECRET}. Never logged. Required, unless the runtime only uses nats " +
        "(there it signs every NATS message: without it, NATS permissions are the only boundary).",
      type: "string",
      minLength: 1,
    },
    tls: { description: "TLS for tcp:// links.", ...ref("tls") },
    keepalive: duration(
      "A peer silent this long is declared unreachable and re-dialed.",
      t.keepalive,
    ),
    max_frame: {
      description: "Largest frame a link accepts: bytes, or with a unit B, KiB, MiB, GiB; from " +
        "1KiB to 2GiB (default 16MiB). Every runtime of the application should agree.",
      default: "16MiB",
      ...ref("size"),
    },
    nats: {
      description: "NATS as the engine between runtimes: servers and credentials (see " +
        "docs/transports.md).",
      ...ref("nats"),
    },
  };

  const natsServer = { type: "string", pattern: "^nats://[^/@,]+/?$" };
  const credential = (what: string): Schema => ({
    description: `${what}, usually \${NATS_…}. Never logged.`,
    type: "string",
    minLength: 1,
  });
  const nats: Properties<"nats"> = {
    servers: {
      description: "NATS server URLs, nats://host:port (several for a cluster; no credentials " +
        "in them). Required.",
      anyOf: [
        // One string may list several, comma-separated (NATS_URL style).
        { type: "string", pattern: "^nats://[^/@,]+/?(\\s*,\\s*nats://[^/@,]+/?)*$" },
        { type: "array", minItems: 1, items: anyOfVariable(natsServer) },
        ref("variable"),
      ],
    },
    user: credential("User name (with password)"),
    password: credential("Password (with user)"),
    token: credential("Token (instead of user and password)"),
    creds: {
      description: "A .creds file (JWT and NKey seed), relative to the topology's folder.",
      type: "string",
      minLength: 1,
    },
  };

  const tls: Properties<"tls"> = {
    cert: { description: "Certificate file to listen with (PEM).", type: "string", minLength: 1 },
    key: { description: "Private key file of cert (PEM).", type: "string", minLength: 1 },
    ca: { description: "CA file to trust when dialing (PEM).", type: "string", minLength: 1 },
  };

  const management: Properties<"management"> = {
    listen: {
      description: `Where the management API listens: "host:port", "port" or ":port" (host ` +
        `127.0.0.1), port 0 to 65535 (default ${DEFAULTS.management.listen}).`,
      default: DEFAULTS.management.listen,
      anyOf: [
        {
          type: "string",
          pattern: "^\\s*((\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]*):)?\\d{1,5}\\s*$",
        },
        { type: "integer", minimum: 0, maximum: 65535 },
        ref("variable"),
      ],
    },
    token: {
      description: "The bearer token every request must carry, usually ${KRAKEN_TOKEN}. Never " +
        "logged. Required.",
      type: "string",
      minLength: 1,
    },
  };

  const leadership: Properties<"leadership"> = {
    nats: {
      description: "NATS server URLs with JetStream (nats-server -js); default the servers of " +
        "transports.nats, with its credentials.",
      anyOf: [
        { type: "string", pattern: "^nats://[^/@,]+/?(\\s*,\\s*nats://[^/@,]+/?)*$" },
        { type: "array", minItems: 1, items: anyOfVariable(natsServer) },
        ref("variable"),
      ],
    },
    bucket: {
      description: "The key-value bucket holding the lease (default <application>_leader).",
      anyOf: orVariable({ type: "string", pattern: "^[A-Za-z0-9_-]+$" }),
    },
    ttl: duration(
      "The lease's time to live (300ms to 1h): a lost root's standby leads after about this long.",
      2_000,
    ),
  };

  const host: Properties<"host"> = {
    address: {
      description: "The URL that runtime listens on (its transports.listen). Required.",
      ...ref("url"),
    },
  };

  const schedule: Properties<"schedule"> = {
    cron: {
      description: 'A cron expression: 5 fields, or 6 with seconds first ("0 * * * * *": every ' +
        "minute), or @hourly, @daily… Exactly one of cron and every.",
      type: "string",
      minLength: 1,
    },
    every: {
      description: "A fixed period, at least 1s (10s, 1m); ticks fall on multiples of it since " +
        "the Unix epoch. Exactly one of cron and every.",
      $ref: "#/$defs/duration",
    },
    timezone: {
      description: "With cron: the IANA time zone it is read in, such as Europe/Paris " +
        "(default UTC).",
      type: "string",
      minLength: 1,
    },
    to: {
      description: "The container each tick is sent to, as a request. Required.",
      ...ref("name"),
    },
    entity: {
      description: "An entity id of the to: container the tick is addressed to.",
      type: "string",
      minLength: 1,
    },
    topic: {
      description: "The topic of the request each tick sends. Required.",
      type: "string",
      minLength: 1,
    },
    body: { description: "The body of that request (any value)." },
    missed: enumOf(
      TOPOLOGY_VALUES.missed,
      "Ticks found in the past when the runtime wakes (it was busy or asleep): skip them " +
        "(default), or run_once for all of them.",
      DEFAULTS.schedule.missed,
    ),
  };

  const grant = { type: "string", minLength: 1, pattern: "^[^,]+$" };
  const permissionDescriptions: Record<PermissionKind, string> = {
    net: "Network: true, or host[:port] entries (e.g. 127.0.0.1:8080).",
    read: "File reads: true, or paths (relative to the topology's folder).",
    write: "File writes: true, or paths (relative to the topology's folder).",
    env: "Environment variables: true, or names.",
    run: "Subprocesses: true, or program names.",
    ffi: "Native libraries: true, or paths.",
    sys: "System information: true, or API names (e.g. hostname, osRelease).",
    import: "Dynamic imports from the network: true, or hosts.",
  };
  const permissions = Object.fromEntries(
    PERMISSION_KINDS.map((kind) => [kind, {
      description: `${permissionDescriptions[kind]} false or absent: denied.`,
      anyOf: [{ type: "boolean" }, grant, { type: "array", items: grant }],
    }]),
  );

  const block = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
    type: "object",
    properties,
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false,
  });

  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "Kraken topology (kraken.yaml)",
    description: "An application: its containers, their supervision tree and sandboxes, links " +
      "to other runtimes and the management API. See docs/topology.md.",
    ...block(topology, ["containers"]),
    $defs: {
      supervisor: block(supervisor),
      backoff: block(backoff),
      containerMap: {
        description: "Containers by name.",
        type: "object",
        propertyNames: { pattern: TOPOLOGY_PATTERNS.name },
        additionalProperties: ref("container"),
      },
      container: block(container, ["module"]),
      serve: block(serve, ["port"]),
      entities: block(entities),
      rule: block(rule, ["match", "action"]),
      permissions: block(permissions),
      // The secret is required unless the runtime only uses NATS (listen/hosts need it; the
      // validator checks that part).
      transports: {
        ...block(transports),
        anyOf: [{ required: ["secret"] }, { required: ["nats"] }],
      },
      tls: block(tls),
      nats: block(nats, ["servers"]),
      management: block(management, ["token"]),
      host: block(host, ["address"]),
      leadership: block(leadership),
      schedule: {
        ...block(schedule, ["to", "topic"]),
        // One of them is required; that it is only one, the validator says.
        anyOf: [{ required: ["cron"] }, { required: ["every"] }],
      },
      name: {
        description: `A name: a letter, then letters, digits, "_" or "-".`,
        anyOf: orVariable({ type: "string", pattern: TOPOLOGY_PATTERNS.name }),
      },
      duration: {
        description: "250ms, 5s, 2m, or a number of milliseconds.",
        anyOf: [
          { type: "number", minimum: 0 },
          { type: "string", pattern: TOPOLOGY_PATTERNS.duration },
          ref("variable"),
        ],
      },
      size: {
        description: "Bytes, or with a unit B, KiB, MiB, GiB (1KiB to 2GiB).",
        anyOf: [
          { type: "integer", minimum: 1024, maximum: 2 ** 31 },
          { type: "string", pattern: TOPOLOGY_PATTERNS.size },
          ref("variable"),
        ],
      },
      url: {
        description: "A URL with a scheme, such as tcp://127.0.0.1:7070.",
        anyOf: orVariable({ type: "string", pattern: TOPOLOGY_PATTERNS.url }),
      },
      variable: {
        description: "${VAR}: read from the environment when the topology loads.",
        type: "string",
        pattern: TOPOLOGY_PATTERNS.variable,
      },
    },
  };
}
