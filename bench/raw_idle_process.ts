// Bare idle subprocess for the memory baseline: says it is up (one byte), then waits on stdin.
await Deno.stdout.write(new Uint8Array([1]));
await Deno.stdin.readable.pipeTo(new WritableStream());
