// Raw baseline for process mode: echoes length-prefixed msgpack frames over stdin/stdout, one
// frame per message, with the repo's own codec and framing (the channel process mode uses).
// With `--batch`, the echoes of all frames read in one chunk leave in one write.
import { FrameDecoder } from "../protocol/framing.ts";
import { decodeMsgpack, MsgpackEncoder } from "../protocol/msgpack.ts";
import { concat } from "./_concat.ts";

const batch = Deno.args.includes("--batch");
const encoder = new MsgpackEncoder();
const decoder = new FrameDecoder();
const writer = Deno.stdout.writable.getWriter();
const ignore = () => {};

for await (const chunk of Deno.stdin.readable) {
  const out: Uint8Array[] = [];
  for (const frame of decoder.push(chunk)) {
    const echo = encoder.encodeFrame(decodeMsgpack(frame));
    if (batch) out.push(echo);
    else writer.write(echo).catch(ignore);
  }
  if (out.length > 0) writer.write(concat(out)).catch(ignore);
}
await writer.close().catch(ignore);
