// Grants compared by what they grant, not as text: `..`, symbolic links (dangling ones too),
// host spellings, wildcards, CIDRs, env prefixes, programs found on PATH — and `true` only
// within `true`. The pure comparison runs on a fake file system; the validator's
// "within its parent" check on a real one.
import assert from "node:assert/strict";
import { canonicalItem, type FileSystemView, realPath } from "../../config/_canonical.ts";
import { DENO_FS } from "../../config/_deno_fs.ts";
import { loadTopology } from "../../config/load.ts";
import {
  canonicalGrant,
  grantOutside,
  toWorkerPermissions,
  validatePermissions,
} from "../../config/permissions.ts";

/** A file system of a few folders, files and links. */
function fakeFs(entries: Record<string, string | null>, programs: Record<string, string> = {}) {
  const view: FileSystemView = {
    readLink: (path) => path in entries ? entries[path] : undefined,
    which: (name) => programs[name],
  };
  return view;
}

const fs = fakeFs({
  "/srv": null,
  "/srv/app": null,
  "/srv/app/data": null,
  "/srv/app/data/etc": "/etc", // a link out of data
  "/srv/app/data/up": "../..", // relative, out of data
  "/srv/app/data/ghost": "/etc/new-file", // dangling: writing it creates /etc/new-file
  "/srv/app/data/loop": "loop",
  "/srv/app/shared": "data", // a link that stays inside
  "/etc": null,
  "/usr": null,
  "/usr/bin": null,
  "/usr/bin/python3": "python3.12",
  "/usr/bin/python3.12": null,
  "/opt": null,
  "/opt/py": "/usr/bin/python3",
}, { python3: "/usr/bin/python3", git: "/usr/bin/git" });

Deno.test("realPath() follows links, relative and dangling ones too, and appends what does not exist", () => {
  assert.equal(realPath("/srv/app/data/etc/passwd", fs), "/etc/passwd");
  assert.equal(realPath("/srv/app/data/up/x", fs), "/srv/x");
  assert.equal(realPath("/srv/app/data/ghost", fs), "/etc/new-file");
  assert.equal(realPath("/srv/app/shared/a/b", fs), "/srv/app/data/a/b");
  assert.equal(realPath("/srv/app/data/not/yet", fs), "/srv/app/data/not/yet");
  assert.equal(realPath("/srv/app/data/loop/x", fs), undefined, "a loop resolves to nothing");
  assert.equal(realPath("/", fs), "/");
});

Deno.test("a path with .. is compared collapsed: data/../../.. is / and lies outside data", () => {
  const outside = grantOutside({ read: ["/srv/app/data/../../.."] }, { read: ["/srv/app/data"] });
  assert.deepEqual(outside, { kind: "read", value: "/srv/app/data/../../..", resolved: "/" });
  assert.equal(canonicalItem("read", "data/../../..", "/srv/app"), "/");
  assert.equal(
    grantOutside({ write: ["/srv/app/data/./x/../y"] }, { write: ["/srv/app/data"] }),
    null,
  );
  assert.ok(grantOutside({ read: ["/srv/app/database"] }, { read: ["/srv/app/data"] }));
});

Deno.test("a path through a symbolic link is compared at its real path, for every path kind", () => {
  for (const kind of ["read", "write", "ffi"] as const) {
    const limit = { [kind]: ["/srv/app/data"] };
    assert.deepEqual(
      grantOutside({ [kind]: ["/srv/app/data/etc"] }, limit, { fs }),
      { kind, value: "/srv/app/data/etc", resolved: "/etc" },
    );
    assert.equal(grantOutside({ [kind]: ["/srv/app/data/up"] }, limit, { fs })?.resolved, "/srv");
    assert.equal(
      grantOutside({ [kind]: ["/srv/app/data/ghost"] }, limit, { fs })?.resolved,
      "/etc/new-file",
      "a dangling link counts where it points",
    );
    assert.equal(grantOutside({ [kind]: ["/srv/app/data/loop"] }, limit, { fs })?.resolved, null);
    assert.equal(grantOutside({ [kind]: ["/srv/app/shared/x"] }, limit, { fs }), null);
    assert.equal(grantOutside({ [kind]: ["/srv/app/data/new/file"] }, limit, { fs }), null);
  }
  // The limit is resolved too: a limit given through a link covers what it points to.
  assert.equal(
    grantOutside({ read: ["/srv/app/data/x"] }, { read: ["/srv/app/shared"] }, { fs }),
    null,
  );
});

Deno.test("net and import compare hosts and ports, not spellings", () => {
  for (const kind of ["net", "import"] as const) {
    const within = (wanted: string, held: string) =>
      grantOutside({ [kind]: [wanted] }, { [kind]: [held] }) === null;
    assert.ok(within("API.Example.com.:443", "api.example.com"), "case, trailing dot, any port");
    assert.ok(within("api.example.com:443", "api.example.com:0443"));
    assert.ok(!within("api.example.com", "api.example.com:443"), "every port is not one port");
    assert.ok(!within("api.example.com:80", "api.example.com:443"));
    assert.ok(within("[0:0::1]:8080", "[::1]"), "IPv6 compared compressed");
    assert.ok(!within("[::2]:8080", "[::1]"));
    assert.ok(within("a.b.example.com:443", "*.example.com"));
    assert.ok(within("example.com", "*.example.com"), "as Deno reads a wildcard");
    assert.ok(within("*.b.example.com", "*.example.com"));
    assert.ok(!within("*.example.com", "a.example.com"));
    assert.ok(!within("badexample.com", "*.example.com"));
    assert.ok(within("10.1.2.3:5432", "10.0.0.0/8"));
    assert.ok(within("10.1.0.0/16", "10.0.0.0/8"));
    assert.ok(!within("10.0.0.0/7", "10.0.0.0/8"));
    assert.ok(!within("11.0.0.1", "10.0.0.0/8"));
    assert.ok(!within("db.internal", "10.0.0.0/8"), "no DNS: a name is not an address");
    assert.ok(!within("127.0.0.1", "localhost"), "no DNS: an address is not a name");
    assert.ok(!within("127.0.0.1:80", "127.0.0.1:8080"));
  }
  assert.equal(canonicalItem("net", "[0:0::1]:80", "/"), "[::1]:80");
  assert.equal(canonicalItem("net", "Foo.COM.", "/"), "foo.com");
});

Deno.test("env names are exact; a trailing * covers the names it prefixes", () => {
  const within = (wanted: string, held: string) =>
    grantOutside({ env: [wanted] }, { env: [held] }) === null;
  assert.ok(within("HOME", "HOME"));
  assert.ok(!within("home", "HOME"));
  assert.ok(!within("HOMEDIR", "HOME"));
  assert.ok(within("AWS_REGION", "AWS_*"));
  assert.ok(within("AWS_S3_*", "AWS_*"));
  assert.ok(!within("AWS_*", "AWS_REGION"));
  assert.ok(!within("*", "AWS_*"));
});

Deno.test("run compares the real program: a bare name is found on PATH, a path's links are followed", () => {
  const within = (wanted: string, held: string) =>
    grantOutside({ run: [wanted] }, { run: [held] }, { fs }) === null;
  assert.ok(within("python3", "/usr/bin/python3.12"));
  assert.ok(within("/opt/py", "python3"));
  assert.ok(within("/usr/bin/git", "git"));
  assert.ok(!within("python3", "git"));
  assert.ok(!within("/opt/py", "/opt"), "a folder does not cover the programs in it");
  assert.ok(within("deno", "deno"), "a name PATH does not find is compared as written");
});

Deno.test("true is covered only by true; sys names are exact; a kind the limit lacks is refused", () => {
  assert.deepEqual(grantOutside({ read: true }, { read: ["/"] }), { kind: "read", value: true });
  assert.equal(grantOutside({ read: true }, { read: true }), null);
  assert.equal(grantOutside({ read: ["/"] }, { read: true }), null);
  assert.deepEqual(grantOutside({ sys: ["hostname"] }, { sys: ["osRelease"] }), {
    kind: "sys",
    value: "hostname",
  });
  assert.deepEqual(grantOutside({ env: ["HOME"] }, {}), { kind: "env", value: "HOME" });
});

Deno.test("canonicalGrant() gives real paths, normalised hosts and found programs", () => {
  assert.deepEqual(
    canonicalGrant({
      read: ["data/etc", "data/../data/x"],
      net: ["API.example.com:0443", "[0::1]"],
      run: ["python3"],
      env: ["HOME"],
      write: true,
    }, { base: "/srv/app", fs }),
    {
      read: ["/etc", "/srv/app/data/x"],
      net: ["api.example.com:443", "[::1]"],
      run: ["/usr/bin/python3.12"],
      env: ["HOME"],
      write: true,
    },
  );
});

Deno.test("validatePermissions() collapses absolute paths too, and keeps relative ones for a remote agent", () => {
  const local = validatePermissions({ read: ["/srv/app/data/../../etc", "./x/.."] }, "/srv/app");
  assert.deepEqual(local, { ok: true, value: { read: ["/srv/etc", "/srv/app"] } });
  const remote = validatePermissions({ read: ["./data"] }, null);
  assert.deepEqual(remote, { ok: true, value: { read: ["./data"] } });
});

Deno.test("a child's grant is checked against its parent's at real paths: a link out of the parent's folder is refused", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    await Deno.mkdir(`${dir}/data`);
    await Deno.symlink("/etc", `${dir}/data/etc`);
    await Deno.writeTextFile(`${dir}/a.ts`, "");
    const yaml = (childRead: string) =>
      `containers:\n  a:\n    module: ./a.ts\n    mode: process\n    permissions: { read: [./data] }\n` +
      `    children:\n      b: { module: ./a.ts, permissions: { read: ["${childRead}"] } }\n`;
    const above = dir.slice(0, dir.lastIndexOf("/")) || "/";
    for (
      const [childRead, said] of [
        ["./data/etc", `"${dir}/data/etc" (which is /etc)`],
        ["./data/../..", `"${above}"`],
      ]
    ) {
      await Deno.writeTextFile(`${dir}/kraken.yaml`, yaml(childRead));
      await assert.rejects(loadTopology(`${dir}/kraken.yaml`), (e: Error) => {
        assert.equal(e.name, "TopologyError");
        assert.ok(
          e.message.includes(
            `kraken.yaml:7:49: containers.a.children.b.permissions.read: asks for read ${said}, which its parent "a" does not have`,
          ),
          e.message,
        );
        return true;
      });
    }
    await Deno.writeTextFile(`${dir}/kraken.yaml`, yaml("./data/sub"));
    const ok = await loadTopology(`${dir}/kraken.yaml`);
    assert.deepEqual(ok.containers[0].children[0].permissions.read, [`${dir}/data/sub`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DENO_FS sees this machine's links, and finds programs on PATH", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    await Deno.symlink("/etc", `${dir}/etc`);
    assert.equal(realPath(`${dir}/etc/hostname`, DENO_FS), "/etc/hostname");
    assert.equal(realPath(`${dir}/nothing/here`, DENO_FS), `${dir}/nothing/here`);
    assert.equal(DENO_FS.which?.("sh")?.endsWith("/sh"), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a worker's sys: true is every sys name but those that change the process it shares: umask, setuid, setgid, seteuid, setegid", () => {
  const sys = toWorkerPermissions({ sys: true }).sys;
  assert.ok(Array.isArray(sys), String(sys));
  for (const name of ["umask", "setuid", "setgid", "seteuid", "setegid"]) {
    assert.ok(!sys.includes(name), name);
  }
  for (const name of ["hostname", "osRelease", "cpus", "userInfo", "inspector", "ca"]) {
    assert.ok(sys.includes(name), name);
  }
  // A list is given as it is (validation never lets one name umask or set*id); other kinds too.
  assert.deepEqual(toWorkerPermissions({ sys: ["hostname"] }).sys, ["hostname"]);
  assert.equal(toWorkerPermissions({ net: true }).net, true);
  assert.equal(validatePermissions({ sys: ["umask"] }, "/").ok, false);
});
