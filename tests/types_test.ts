// Type-level specification: ContainerRef<typeof def> checks topics, bodies and replies.
// These lines are checked by `deno test` (type checking); a wrong @ts-expect-error fails it.
import { container, type ContainerRef } from "../mod.ts";

const greeter = container(() => ({
  greet(body: { who: string }) {
    return { text: `hello ${body.who}` };
  },
  ping() {
    return "pong" as const;
  },
  maybe(body?: { n: number }) {
    return Promise.resolve(body?.n ?? 0);
  },
}));

Deno.test("ContainerRef<typeof def> types requests end to end (compile-time checks)", () => {
  const check = async (ref: ContainerRef<typeof greeter>, untyped: ContainerRef) => {
    const reply: { text: string } = await ref.request("greet", { who: "ada" }, { timeout: 10 });
    const pong: "pong" = await ref.request("ping");
    const n: number = await ref.request("maybe");
    ref.send("greet", { who: "bob" });
    // @ts-expect-error unknown topic
    await ref.request("gret", { who: "ada" });
    // @ts-expect-error wrong body shape
    await ref.request("greet", { name: "ada" });
    // @ts-expect-error missing body
    await ref.request("greet");
    // @ts-expect-error reply type is { text: string }
    const wrong: number = await ref.request("greet", { who: "x" });
    // An untyped ref takes any topic and body and replies unknown.
    const anything: unknown = await untyped.request("whatever", { x: 1 });
    return [reply, pong, n, wrong, anything];
  };
  void check;
});
