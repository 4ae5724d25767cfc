// Helpers for the dashboard's browser tests and screenshot: Debian's headless Chromium driven by
// puppeteer-core over a pipe (no port), and a real `kraken start` of a small shop to look at.
import puppeteer, { type Browser } from "puppeteer-core";
import { krakenInBackground, type Running } from "../cli/_cli.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

/** Where Chromium is (`CHROMIUM` overrides), or `null` when this machine has none. */
export function chromiumPath(): string | null {
  const candidates = [Deno.env.get("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  for (const path of candidates) {
    if (!path) continue;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there
    }
  }
  return null;
}

/** A headless Chromium; close it in `finally`. */
export async function launchBrowser(executablePath: string): Promise<Browser> {
  return await puppeteer.launch({
    executablePath,
    pipe: true,
    // As root (CI) Chromium refuses its sandbox; the pages are our own, on loopback.
    args: ["--no-sandbox", "--headless=new", "--disable-gpu", "--no-first-run"],
    timeout: 30_000,
  });
}

/**
 * The shop the dashboard tests look at: a worker, a process and a fragile worker; `agent` adds a
 * remote container `stock` placed on that host agent (`{ name, url }` of a `kraken node`).
 */
export function shopYaml(agent?: { name: string; url: string; secret: string }): string {
  const remote = agent
    ? `transports: { name: shop, secret: ${agent.secret}, keepalive: 1s }
hosts:
  ${agent.name}: { address: ${agent.url} }
`
    : "";
  const stock = agent
    ? `  stock:
    module: ./member.ts # from the agent's --root (the fixtures)
    mode: remote
    host: ${agent.name}
`
    : "";
  return `name: shop
supervisor: { strategy: one_for_one, intensity: 20, period: 10s }
${remote}containers:
  web:
    module: ${FIXTURES}cli/containers/web.ts
    mode: worker
    replicas: 1
  jobs:
    module: ${FIXTURES}cli/containers/jobs.ts
    mode: process
    replicas: 1
    shutdown: 2s
  fragile:
    module: ${FIXTURES}dashboard/containers/fragile.ts
    mode: worker
${stock}management:
  listen: 127.0.0.1:0
  token: \${KRAKEN_TOKEN}
`;
}

/** `kraken start` of the shop in a temporary folder; `stop()` kills it and removes the folder. */
export async function startShop(
  token: string,
  agent?: { name: string; url: string; secret: string },
): Promise<{
  url: string;
  file: string;
  running: Running;
  stop(): Promise<void>;
}> {
  const dir = await Deno.makeTempDir({ prefix: "kraken-dashboard-" });
  const file = `${dir}/kraken.yaml`;
  await Deno.writeTextFile(file, shopYaml(agent));
  const running = krakenInBackground(["start", file], { env: { KRAKEN_TOKEN: token } });
  const stop = async () => {
    await running.kill();
    await Deno.remove(dir, { recursive: true });
  };
  try {
    const [, url] = await running.waitFor(/management API: (http:\/\/127\.0\.0\.1:\d+\/)/);
    await running.waitFor(/Ctrl-C to stop/);
    return { url, file, running, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The runtime's `audit` events, read with the bearer token from `GET /v1/events` (NDJSON) as they
 * come: each line as sent (to check what is not in it) and parsed. `close()` ends the stream.
 */
export function auditStream(url: string, token: string): {
  lines: string[];
  records: {
    action: string;
    target?: string;
    detail?: Record<string, unknown>;
    by: { via: string; client: string };
  }[];
  close(): Promise<void>;
} {
  const lines: string[] = [];
  const records: ReturnType<typeof auditStream>["records"] = [];
  const aborting = new AbortController();
  const reading = (async () => {
    const res = await fetch(new URL("v1/events?types=audit&format=ndjson", url), {
      headers: { authorization: `Bearer ${token}` },
      signal: aborting.signal,
    });
    let buffer = "";
    for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end).trim();
        buffer = buffer.slice(end + 1);
        if (line === "") continue;
        lines.push(line);
        records.push(JSON.parse(line));
      }
    }
  })().catch((error) => {
    if (!aborting.signal.aborted) throw error;
  });
  return {
    lines,
    records,
    close: async () => {
      aborting.abort();
      await reading;
    },
  };
}

/**
 * Polls `GET /v1/tree` (bearer token) as fast as it answers until `stop()`: each distinct picture
 * of `container`'s instances as `id:state` lists.
 */
export function sampleTree(url: string, token: string, container: string): {
  pictures: string[][];
  stop(): Promise<void>;
} {
  const pictures: string[][] = [];
  let running = true;
  const sampling = (async () => {
    while (running) {
      const res = await fetch(new URL("v1/tree", url), {
        headers: { authorization: `Bearer ${token}` },
      });
      const tree = await res.json() as {
        containers: { name: string; instances: { id: string; state: string }[] }[];
      };
      const found = tree.containers.find((c) => c.name === container);
      const picture = (found?.instances ?? []).map((i) => `${i.id}:${i.state}`);
      if (pictures.at(-1)?.join() !== picture.join()) pictures.push(picture);
    }
  })();
  return {
    pictures,
    stop: async () => {
      running = false;
      await sampling;
    },
  };
}
