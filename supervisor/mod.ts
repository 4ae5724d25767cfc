/**
 * Supervision with OTP's semantics, as a pure state machine and a runner. The machine decides
 * everything — `transition(state, input, { now, random }) → { state, effects }` — and has no I/O,
 * clock or randomness of its own; the runner carries the effects out (start, stop, timers)
 * through a small instance interface, with the clock and timers it is given. `docs/supervision.md`
 * is the user's view; `machine.ts`'s module doc is the specification.
 *
 * | file                | what                                                                      |
 * | ------------------- | ------------------------------------------------------------------------- |
 * | `machine.ts`        | the state machine, and its specification                                  |
 * | `state.ts`          | the state as readonly data: flags, children, slots, restart plans, calls  |
 * | `messages.ts`       | what goes in (calls, what the runner saw) and what comes out (effects)    |
 * | `strategy.ts`       | one_for_one / one_for_all / rest_for_one, restart types, give-up: pure    |
 * | `restart_policy.ts` | intensity over a sliding period, backoff with jitter: pure                |
 * | `error_rules.ts`    | `on_error:` rules by error class                                          |
 * | `views.ts`          | the tree and routes a state shows                                         |
 * | `runner.ts`         | carries effects out; clock, timers and randomness injected                |
 * | `instance.ts`       | what the runner needs of one instance, whatever runs it                   |
 * | `events.ts`, `spec.ts` | what a supervisor reports; its vocabulary                              |
 *
 * @module
 */
export * from "./machine.ts";
export * from "./state.ts";
export * from "./messages.ts";
export * from "./strategy.ts";
export * from "./restart_policy.ts";
export * from "./error_rules.ts";
export * from "./views.ts";
export * from "./runner.ts";
export * from "./instance.ts";
export * from "./events.ts";
export * from "./spec.ts";
