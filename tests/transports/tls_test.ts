// TLS under tcp://: the link is encrypted with a certificate from the topology (a self-signed
// one, made here with openssl), the HMAC handshake runs inside it, and a dialer that does not
// trust the certificate, or speaks plain TCP, gets no link.
import assert from "node:assert/strict";
import { waitUntil } from "../_wait.ts";
import type { Link } from "../../transports/link.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { TransportSet } from "../../transports/transport_set.ts";

/** The built-in transports, as a runtime given none uses them. */
const builtin = new TransportSet(defaultTransports());

const SECRET = "tls-secret";

async function selfSigned(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-keyout",
      key,
      "-out",
      cert,
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return { cert, key };
}

Deno.test("tcp + TLS: a dialer trusting the certificate gets an authenticated, encrypted link", async () => {
  const dir = await Deno.makeTempDir();
  const other = await Deno.makeTempDir();
  const { cert, key } = await selfSigned(dir);
  const untrusted = await selfSigned(other);
  const links: Link[] = [];
  let refused = 0;
  const listener = await builtin.listen("tcp://localhost:0", {
    secret: SECRET,
    tls: { cert, key },
    handshakeTimeout: 1000,
    onLink(link) {
      links.push(link);
      link.onEnvelope = (env) => link.send(env);
    },
    onRefused(_error, _peer, more) {
      refused += 1 + more; // reported at most once a second, with the count since
    },
  });
  try {
    const url = `tcp://localhost:${listener.url.port}`;
    const link = await builtin.dial(url, { secret: SECRET, tls: { ca: cert } });
    const echoed = new Promise((resolve) => (link.onEnvelope = resolve));
    link.send({ k: "pub", t: "hello", b: "over tls" });
    assert.deepEqual(await echoed, { k: "pub", t: "hello", b: "over tls" });
    link.close();
    await link.closed;

    // A dialer trusting another certificate: refused by TLS itself, before any secret is proven.
    await assert.rejects(builtin.dial(url, { secret: SECRET, tls: { ca: untrusted.cert } }));
    // A plain TCP dialer: no link either.
    await assert.rejects(builtin.dial(url, { secret: SECRET, handshakeTimeout: 1000 }));
    await waitUntil(() => refused >= 2, 10_000, "both dialers refused");
    assert.equal(links.length, 1);
  } finally {
    for (const link of links) link.close();
    await Promise.all(links.map((l) => l.closed));
    await listener.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  }
});

Deno.test("wss: a WebSocket link over TLS with a self-signed certificate, trusted by its CA", async () => {
  const dir = await Deno.makeTempDir();
  const { cert, key } = await selfSigned(dir);
  const links: Link[] = [];
  const listener = await builtin.listen("wss://localhost:0/kraken", {
    secret: SECRET,
    tls: { cert, key },
    onLink(link) {
      links.push(link);
      link.onEnvelope = (env) => link.send(env);
    },
  });
  try {
    const link = await builtin.dial(listener.url, { secret: SECRET, tls: { ca: cert } });
    const echoed = new Promise((resolve) => (link.onEnvelope = resolve));
    link.send({ k: "pub", t: "hello", b: "over wss" });
    assert.deepEqual(await echoed, { k: "pub", t: "hello", b: "over wss" });
    link.close();
    await link.closed;
  } finally {
    for (const link of links) link.close();
    await Promise.all(links.map((l) => l.closed));
    await listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tcp + TLS: a listener without cert and key is refused with a clear error", async () => {
  await assert.rejects(
    builtin.listen("tcp://127.0.0.1:0", {
      secret: SECRET,
      tls: { cert: "/nope.pem" },
      onLink() {},
    }),
    /a TLS listener needs tls.cert and tls.key/,
  );
});
