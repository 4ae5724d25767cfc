// Kraken side of the transports benchmark: a runtime listening on the URL given as argument with
// one inline echo container. Prints where it listens (one line), serves until its stdin closes,
// then shuts down and exits.
import { Runtime } from "../mod.ts";

const url = Deno.args[0];
if (!url) throw new Error("usage: _transport_server.ts <listen url>");

const rt = await Runtime.start({
  name: "bench",
  transports: { name: "server", listen: url, secret: "bench" },
  containers: { echo: { module: "./echo_container.ts", mode: "inline" } },
}, { logLevel: "silent", baseUrl: new URL("./", import.meta.url).href });

console.log(rt.listening!.href);

// The end of stdin (the bench closed it, or died) is the signal to stop.
for await (const _ of Deno.stdin.readable) {
  // nothing is expected on stdin
}
await rt.shutdown();
Deno.exit(0);
