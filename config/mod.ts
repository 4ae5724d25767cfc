/**
 * Configuration: the topology model, its one validator (for YAML and for objects alike, callable
 * without starting anything), permissions compared by what they grant, plans (the diff of two
 * topologies), the JSON Schema of `kraken.yaml`, and the YAML loader. All pure but the loader and
 * the file-system view, which are the adapters.
 *
 * | file                  | what                                                                     |
 * | --------------------- | ------------------------------------------------------------------------ |
 * | `topology.ts`         | `validateTopology`, `validateContainer`, and the model's re-exports      |
 * | `model.ts`            | the types of a validated topology and of one as written                  |
 * | `defaults.ts`         | every default in one documented object                                   |
 * | `permissions.ts`      | the `permissions:` block, checked and turned into Deno's flags           |
 * | `plan.ts`             | what it takes to go from one topology to another, as data                |
 * | `schema.ts`           | the JSON Schema, built from the validator's own key tables               |
 * | `load.ts`             | reading a YAML file (bounded), with file, line and column in every error |
 * | `duration.ts`, `unstable.ts`, `file_system_view.ts` | durations; Deno's unstable features; what the permission checks read of the file system |
 * | `cron.ts`             | cron expressions, read by `npm:croner` loaded on demand (an adapter)     |
 * | `_validate.ts`, `_reader.ts`, `_read_*.ts`, `_shape.ts`, `_describe.ts`, `_suggest.ts` | the validator, block by block (`_read_serve.ts`: `serve:` and what it takes; `_read_entities.ts`: `entities:`), and its messages |
; `_read_schedule.ts`: `schedule:`), and its messages |
 * | `_canonical.ts`, `_grant.ts`, `_deno_fs.ts` | permission items by meaning; a grant within this process's |
 * | `_file_url.ts`        | `file:` URLs and paths as `node:url` makes them, without loading Deno's Node layer |
 *
 * @module
 */
export * from "./topology.ts";
export * from "./defaults.ts";
export * from "./permissions.ts";
export * from "./plan.ts";
export * from "./schema.ts";
export * from "./load.ts";
export * from "./duration.ts";
export * from "./cron.ts";
