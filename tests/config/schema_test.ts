// The JSON Schema of kraken.yaml: structurally sound, in step with the validator key for key, and
// it accepts the good topology files and flags the malformed ones an editor can catch.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { topologyJsonSchema } from "../../config/schema.ts";
import { TOPOLOGY_KEYS, type TopologyBlock, validateTopology } from "../../config/topology.ts";
import { PERMISSION_KINDS } from "../../config/permissions.ts";
import { UNSTABLE_FEATURES } from "../../config/_unstable.ts";

type Schema = Record<string, unknown>;
const FIXTURES = new URL("../fixtures/topologies/", import.meta.url);
const schema = topologyJsonSchema();
const defs = schema.$defs as Record<string, Schema>;

/** The keywords the schema may use: anything else is a typo an editor would silently ignore. */
const KEYWORDS = new Set([
  "$schema",
  "$defs",
  "$ref",
  "title",
  "description",
  "default",
  "type",
  "enum",
  "pattern",
  "minimum",
  "maximum",
  "minLength",
  "minItems",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "items",
  "anyOf",
]);
const TYPES = new Set(["object", "array", "string", "number", "integer", "boolean", "null"]);

/** Every subschema with the JSON pointer it sits at. */
function* walk(node: Schema, at = "#"): Generator<[Schema, string]> {
  yield [node, at];
  for (const [key, value] of Object.entries(node)) {
    if (key === "properties" || key === "$defs") {
      for (const [name, sub] of Object.entries(value as Record<string, Schema>)) {
        yield* walk(sub, `${at}/${key}/${name}`);
      }
    } else if (key === "anyOf") {
      for (const [i, sub] of (value as Schema[]).entries()) yield* walk(sub, `${at}/anyOf/${i}`);
    } else if (
      ["items", "additionalProperties", "propertyNames"].includes(key) &&
      typeof value === "object"
    ) {
      yield* walk(value as Schema, `${at}/${key}`);
    }
  }
}

/** `typeof`, named so that the comparison with a schema's type string is not flagged. */
function typeOf(value: unknown): string {
  return typeof value;
}

function resolve(ref: string): Schema {
  const m = /^#\/\$defs\/([A-Za-z]+)$/.exec(ref);
  assert.ok(m && defs[m[1]], `dangling $ref ${ref}`);
  return defs[m[1]];
}

/**
 * A small validator for the keywords above (draft 2020-12 semantics), enough to check documents
 * against this schema: it returns one line per violation, with the instance path.
 */
function check(node: Schema, value: unknown, path = "$"): string[] {
  const errors: string[] = [];
  if (node.$ref) errors.push(...check(resolve(node.$ref as string), value, path));
  if (node.type !== undefined) {
    const t = node.type as string;
    const ok = t === "integer"
      ? Number.isInteger(value)
      : t === "array"
      ? Array.isArray(value)
      : t === "object"
      ? typeof value === "object" && value !== null && !Array.isArray(value)
      : t === "null"
      ? value === null
      : typeOf(value) === t;
    if (!ok) return [...errors, `${path}: not ${t}`];
  }
  if (node.enum && !(node.enum as unknown[]).includes(value)) errors.push(`${path}: not in enum`);
  if (typeof value === "string") {
    if (node.pattern && !new RegExp(node.pattern as string, "u").test(value)) {
      errors.push(`${path}: does not match ${node.pattern}`);
    }
    if (node.minLength !== undefined && value.length < (node.minLength as number)) {
      errors.push(`${path}: too short`);
    }
  }
  if (typeof value === "number") {
    if (node.minimum !== undefined && value < (node.minimum as number)) {
      errors.push(`${path}: below minimum`);
    }
    if (node.maximum !== undefined && value > (node.maximum as number)) {
      errors.push(`${path}: above maximum`);
    }
  }
  if (Array.isArray(value)) {
    if (node.minItems !== undefined && value.length < (node.minItems as number)) {
      errors.push(`${path}: too few items`);
    }
    if (node.items) {
      value.forEach((item, i) =>
        errors.push(...check(node.items as Schema, item, `${path}[${i}]`))
      );
    }
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const properties = (node.properties ?? {}) as Record<string, Schema>;
    for (const key of (node.required ?? []) as string[]) {
      if (!(key in value)) errors.push(`${path}: missing ${key}`);
    }
    for (const [key, item] of Object.entries(value)) {
      if (node.propertyNames) {
        errors.push(...check(node.propertyNames as Schema, key, `${path}.${key}(name)`));
      }
      if (key in properties) errors.push(...check(properties[key], item, `${path}.${key}`));
      else if (node.additionalProperties === false) errors.push(`${path}: unknown key ${key}`);
      else if (typeof node.additionalProperties === "object") {
        errors.push(...check(node.additionalProperties as Schema, item, `${path}.${key}`));
      }
    }
  }
  if (node.anyOf) {
    const branches = (node.anyOf as Schema[]).map((sub) => check(sub, value, path));
    if (branches.every((b) => b.length > 0)) {
      errors.push(`${path}: matches no alternative (${branches.map((b) => b[0]).join(" | ")})`);
    }
  }
  return errors;
}

Deno.test("topologyJsonSchema() is a draft 2020-12 schema with known keywords and no dangling $ref", () => {
  assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
  // It survives JSON: nothing in it but plain data.
  assert.deepEqual(JSON.parse(JSON.stringify(schema)), schema);
  const referenced = new Set<string>();
  for (const [node, at] of walk(schema)) {
    for (const key of Object.keys(node)) {
      assert.ok(KEYWORDS.has(key), `${at}: unknown keyword ${key}`);
    }
    if (node.$ref) {
      resolve(node.$ref as string);
      referenced.add(node.$ref as string);
    }
    if (node.type !== undefined) {
      assert.ok(TYPES.has(node.type as string), `${at}: type ${node.type}`);
    }
    if (node.pattern !== undefined) new RegExp(node.pattern as string, "u");
    if (node.properties) {
      assert.equal(node.additionalProperties, false, `${at}: closed to unknown keys`);
      for (const key of (node.required ?? []) as string[]) {
        assert.ok(key in (node.properties as Schema), `${at}: required ${key} is a property`);
      }
      for (const [key, sub] of Object.entries(node.properties as Record<string, Schema>)) {
        assert.equal(typeof sub.description, "string", `${at}/properties/${key} has a description`);
      }
    }
  }
  assert.deepEqual(
    [...referenced].sort(),
    Object.keys(defs).map((name) => `#/$defs/${name}`).sort(),
    "every definition is used",
  );
});

/** Where each block sits in the schema. */
const SCHEMA_BLOCKS: Record<TopologyBlock, Schema> = {
  topology: schema,
  supervisor: defs.supervisor,
  backoff: defs.backoff,
  container: defs.container,
  serve: defs.serve,
  entities: defs.entities,
  rule: defs.rule,
  transports: defs.transports,
  tls: defs.tls,
  nats: defs.nats,
  management: defs.management,
  host: defs.host,
  schedule: defs.schedule,
  leadership: defs.leadership,
};

Deno.test("the schema lists exactly the keys the validator accepts, block by block", () => {
  for (const [block, node] of Object.entries(SCHEMA_BLOCKS)) {
    assert.deepEqual(
      Object.keys(node.properties as Schema),
      [...TOPOLOGY_KEYS[block as TopologyBlock]],
      block,
    );
  }
  assert.deepEqual(Object.keys(defs.permissions.properties as Schema), [...PERMISSION_KINDS]);
  // children and containers take the same recursive container.
  assert.equal(
    (defs.container.properties as Record<string, Schema>).children.$ref,
    "#/$defs/containerMap",
  );
  assert.equal(
    (schema.properties as Record<string, Schema>).containers.$ref,
    "#/$defs/containerMap",
  );
  assert.equal(
    defs.containerMap.additionalProperties &&
      (defs.containerMap.additionalProperties as Schema).$ref,
    "#/$defs/container",
  );
});

/** Where each block sits in a topology, and a topology holding every block. */
const PLACES: Record<TopologyBlock | "permissions", (string | number)[]> = {
  topology: [],
  supervisor: ["supervisor"],
  backoff: ["supervisor", "backoff"],
  container: ["containers", "a"],
  serve: ["containers", "a", "serve"],
  entities: ["containers", "a", "entities"],
  rule: ["containers", "a", "on_error", 0],
  transports: ["transports"],
  tls: ["transports", "tls"],
  nats: ["transports", "nats"],
  management: ["management"],
  host: ["hosts", "b"],
  schedule: ["schedule", "s"],
  leadership: ["leadership"],
  permissions: ["containers", "a", "permissions"],
};
const full = () => ({
  supervisor: { backoff: {} },
  containers: {
    a: {
      module: "./a.ts",
      mode: "inline",
      permissions: {},
      on_error: [{ match: "X", action: "stop" }],
      serve: { port: 8080 },
      entities: {},
    },
  },
  transports: { secret: "s", tls: {}, nats: { servers: ["nats://127.0.0.1:4222"] } },
  management: { token: "t" },
  hosts: { b: { address: "tcp://127.0.0.1:1" } },
  schedule: { s: { every: "1s", to: "a", topic: "t" } },
  leadership: {},
});

/** The validator's message for `input`, or "" when it is accepted. */
function verdict(input: unknown): string {
  try {
    validateTopology(input, { baseUrl: "file:///app/" });
    return "";
  } catch (error) {
    return (error as Error).message;
  }
}

function withKey(place: (string | number)[], key: string, value: unknown): unknown {
  const input = full() as Record<string | number, unknown>;
  let node = input;
  for (const step of place) node = node[step] as Record<string | number, unknown>;
  node[key] = value;
  return input;
}

Deno.test("the validator knows every key of the schema and refuses one the schema does not have", () => {
  assert.equal(verdict(full()), "", "the probe topology itself is valid");
  for (const [block, place] of Object.entries(PLACES)) {
    const node = block === "permissions" ? defs.permissions : SCHEMA_BLOCKS[block as TopologyBlock];
    for (const key of Object.keys(node.properties as Schema)) {
      const message = verdict(withKey(place, key, { probe: 1 }));
      assert.doesNotMatch(
        message,
        new RegExp(`unknown (key|permission) "${key}"`),
        `${block}.${key}`,
      );
    }
    const message = verdict(withKey(place, "zz_probe", 1));
    assert.match(message, /: unknown (key|permission) "zz_probe"/, `${block} refuses zz_probe`);
  }
});

async function fixture(name: string): Promise<unknown> {
  return parse(await Deno.readTextFile(new URL(name, FIXTURES)));
}

Deno.test("the good topology files, the CONTRACT example among them, validate against the schema", async () => {
  const names = [];
  for await (const entry of Deno.readDir(new URL("good/", FIXTURES))) names.push(entry.name);
  assert.ok(names.includes("contract_example.yaml"));
  for (const name of names) {
    assert.deepEqual(check(schema, await fixture(`good/${name}`)), [], name);
  }
});

Deno.test("the schema flags the malformed files whose fault is in their shape", async () => {
  const shapeFaults = [
    "unknown_top_key",
    "unknown_container_key",
    "key_in_wrong_block",
    "container_key_at_top",
    "permission_outside_permissions",
    "missing_containers",
    "containers_is_null",
    "container_name_invalid",
    "replicas_word",
    "replicas_fraction",
    "buffer_negative",
    "mode_misspelt",
    "mode_wrong_type",
    "balance_misspelt",
    "restart_unknown",
    "duration_word",
    "duration_unit",
    "period_negative",
    "jitter_out_of_range",
    "strategy_unknown",
    "supervisor_not_a_map",
    "module_missing",
    "module_wrong_type",
    "permission_unknown",
    "permission_bad_item",
    "on_error_action_misspelt",
    "on_error_not_a_list",
    "config_not_a_map",
    "transports_no_secret",
    "transports_listen_not_url",
    "host_address_missing",
    "max_frame_unit",
    "management_no_token",
    "management_token_not_string",
    "management_bad_host",
    "management_unknown_key",
    "name_empty",
  ];
  for (const name of shapeFaults) {
    assert.notDeepEqual(check(schema, await fixture(`bad/${name}.yaml`)), [], name);
  }
});

Deno.test("the schema lets ${VAR} stand for any scalar, as the validator does", () => {
  const input = {
    containers: {
      a: { module: "./a.ts", replicas: "${N}", mode: "${MODE}", shutdown: "${T}" },
    },
    management: { listen: "${LISTEN}", token: "${KRAKEN_TOKEN}" },
  };
  assert.deepEqual(check(schema, input), []);
});

Deno.test("the schema caps replicas where the validator does", () => {
  const at = (replicas: number) =>
    check(schema, { containers: { a: { module: "./a.ts", replicas } } });
  assert.deepEqual(at(1000), []);
  assert.notDeepEqual(at(1001), []);
});

Deno.test("the schema knows the unstable features the validator accepts, and no others", () => {
  const at = (unstable: unknown) =>
    check(schema, { containers: { a: { module: "./a.ts", mode: "process", unstable } } });
  assert.deepEqual(at([...UNSTABLE_FEATURES]), []);
  assert.deepEqual(at("net"), []);
  assert.notDeepEqual(at(["--unstable-net"]), []);
  assert.notDeepEqual(at(["quic"]), []);
  const props = (defs.container.properties as Record<string, Schema>).unstable;
  assert.deepEqual((props.anyOf as Schema[])[0].enum, [...UNSTABLE_FEATURES]);
});
