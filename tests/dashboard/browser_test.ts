// The dashboard in a real browser (Debian's headless Chromium, driven by puppeteer-core) against a
// real `kraken start`: sign in as a person would, watch the tree, scale from the page, crash a
// container, follow the logs, plan and apply an edited topology, and see the runtime go away.
// Skipped, saying so, only where Chromium is absent (.ci/run installs it).
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { auditStream, chromiumPath, launchBrowser, sampleTree, startShop } from "./_dashboard.ts";
import { SECRET, startAgent } from "../distribution/_agents.ts";

const CHROMIUM = chromiumPath();
const TOKEN = "dashboard-token-" + crypto.randomUUID();
const WAIT = 15_000;

/** What the test reads and sets of a form field or a panel (the test has no DOM types). */
interface Field {
  value: string;
  disabled: boolean;
  hidden: boolean;
}

if (!CHROMIUM) {
  console.warn(
    "SKIPPED tests/dashboard/browser_test.ts: no Chromium at /usr/bin/chromium (apt-get install chromium, or set CHROMIUM)",
  );
}

/** How many rows of the tree match `selector`. */
function count(page: Page, selector: string): Promise<number> {
  return page.$$eval(selector, (rows) => rows.length);
}

/** The text of `selector`, or "" when absent. */
function text(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (el) => el.textContent ?? "").catch(() => "");
}

async function until(what: string, check: () => Promise<boolean>, ms = WAIT): Promise<void> {
  let last = false;
  const deadline = Date.now() + ms;
  while (!(last = await check()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(last, `timed out after ${ms} ms waiting for ${what}`);
}

Deno.test({
  name: "the dashboard, in Chromium, against kraken start: sign in, watch, act, and see it end",
  ignore: !CHROMIUM,
  async fn(t) {
    const shop = await startShop(TOKEN);
    const browser = await launchBrowser(CHROMIUM!);
    const audit = auditStream(shop.url, TOKEN);
    const errors: string[] = [];
    try {
      const page = await browser.newPage();
      page.on("pageerror", (error) => errors.push(String(error)));
      page.setDefaultTimeout(WAIT);
      await page.setViewport({ width: 1400, height: 1000 });
      await page.goto(shop.url);

      await t.step("a wrong token is refused and no cookie is set", async () => {
        await page.waitForSelector("#token", { visible: true });
        await page.type("#token", "not-the-token");
        await page.click("#sign-in-form button");
        await until("the sign-in error", async () => (await text(page, "#sign-in-error")) !== "");
        assert.equal(await text(page, "#sign-in-error"), "Wrong token.");
        assert.deepEqual(await browser.cookies(), []);
        assert.equal(await page.$eval("#token", (el) => (el as unknown as Field).value), "");
      });

      await t.step(
        "signing in shows the live tree of hosts, containers and instances",
        async () => {
          await page.type("#token", TOKEN);
          await page.click("#sign-in-form button");
          await page.waitForSelector("tr[data-container=web]");
          assert.ok(await page.$eval("#sign-in", (el) => (el as unknown as Field).hidden));
          assert.equal(await count(page, "tr[data-host=local]"), 1);
          await until(
            "every instance running",
            async () => await count(page, "tr[data-instance][data-state=running]") === 3,
          );
          const jobs = await text(page, "tr[data-instance='jobs#0.1']");
          assert.match(jobs, /pid \d+ · p\d+/);
          assert.match(await text(page, "#conn"), /live/);
        },
      );

      await t.step(
        "the cookie is HttpOnly, SameSite=Strict, opens nothing alone, and the token is in no URL or page",
        async () => {
          const cookies = await browser.cookies();
          assert.equal(cookies.length, 1);
          const [cookie] = cookies;
          assert.equal(cookie.name, "kraken_session");
          assert.equal(cookie.httpOnly, true);
          assert.equal(cookie.sameSite, "Strict");
          assert.equal(cookie.path, "/");
          assert.ok(!cookie.value.includes(TOKEN));
          // The browser would send this cookie to any server on 127.0.0.1 (cookies ignore ports),
          // a container's own among them: alone it opens nothing.
          const alone = await fetch(new URL("v1/tree", shop.url), {
            headers: { cookie: `${cookie.name}=${cookie.value}` },
          });
          assert.equal(alone.status, 401);
          await alone.body?.cancel();
          assert.equal(await page.evaluate("document.cookie"), "", "no script reads it");
          assert.ok(!page.url().includes(TOKEN));
          assert.ok(!(await page.content()).includes(TOKEN));
          assert.equal(await page.$eval("#token", (el) => (el as unknown as Field).value), "");
          assert.ok(!shop.running.stdout.includes(TOKEN) && !shop.running.stderr.includes(TOKEN));
        },
      );

      await t.step(
        "a session cookie another server on the host sets for /v1 does not lock the page out",
        async () => {
          // What a container serving on another port of 127.0.0.1 may set (cookies ignore ports):
          // with the longer path it is sent before ours, on every API request.
          await page.setCookie({
            name: "kraken_session",
            value: "x",
            domain: "127.0.0.1",
            path: "/v1",
          });
          await page.reload();
          await page.waitForSelector("tr[data-container=web]");
          await page.waitForSelector("#conn[data-state=live]");
          await page.deleteCookie({ name: "kraken_session", domain: "127.0.0.1", path: "/v1" });
          assert.equal((await browser.cookies()).length, 1);
        },
      );

      await t.step("scaling from the page shows the new instances within a second", async () => {
        await page.locator("tr[data-container=web]").click(); // retried if the row is rebuilt
        await page.waitForSelector("#detail:not([hidden])");
        await page.$eval("#replicas", (el) => ((el as unknown as Field).value = "3"));
        const clicked = Date.now();
        await page.click("#scale");
        await until(
          "3 web instances in the tree",
          async () => await count(page, "tr[data-instance^='web#']") === 3,
          1000,
        );
        const took = Date.now() - clicked;
        assert.ok(took <= 1000, `instances appeared after ${took} ms`);
        await until(
          "3 web instances running",
          async () => await count(page, "tr[data-instance^='web#'][data-state=running]") === 3,
        );
      });

      await t.step(
        "the scale from the page is audited as the page's, by its session, never with the token",
        async () => {
          await until("the audit event of the scale", () =>
            Promise.resolve(
              audit.records.some((r) => r.action === "scale" && r.target === "web"),
            ));
          const scale = audit.records.find((r) => r.action === "scale" && r.target === "web")!;
          assert.equal(scale.by.via, "page");
          assert.match(scale.by.client, /^session:[0-9a-f]{8}$/);
          assert.deepEqual(scale.detail, { replicas: 3 });
          assert.ok(audit.lines.every((line) => !line.includes(TOKEN)), "no token in an event");
          await until(
            "the audit log line",
            () =>
              Promise.resolve(
                /audit: scale web replicas=3 by page session:[0-9a-f]{8} /.test(
                  shop.running.stderr,
                ),
              ),
          );
          // The timeline reads it as the log line does, not as JSON.
          await page.waitForSelector("#timeline li[data-type=audit][data-container=web]");
          assert.match(
            await text(page, "#timeline li[data-type=audit][data-container=web]"),
            /audit\s+scale web replicas=3 by page session:[0-9a-f]{8}$/,
          );
          assert.ok(!shop.running.stdout.includes(TOKEN) && !shop.running.stderr.includes(TOKEN));
        },
      );

      await t.step(
        "Restart from the page rolls web one replica at a time: three keep running, every incarnation rises",
        async () => {
          await page.locator("tr[data-container=web]").click(); // retried if the row is rebuilt
          await page.waitForSelector("#detail:not([hidden])");
          assert.match(await text(page, "#restart"), /rolling/);
          const tree = sampleTree(shop.url, TOKEN, "web");
          try {
            await page.click("#restart");
            for (const id of ["web#0.2", "web#1.2", "web#2.2"]) {
              await page.waitForSelector(`tr[data-instance='${id}'][data-state=running]`);
            }
            await until(
              "the old instances gone from the page",
              async () => await count(page, "tr[data-instance^='web#']") === 3,
            );
          } finally {
            await tree.stop();
          }
          const running = (p: string[]) => p.filter((x) => x.endsWith(":running")).length;
          assert.ok(tree.pictures.length > 1, "the restart was seen");
          assert.ok(tree.pictures.every((p) => running(p) >= 3), JSON.stringify(tree.pictures));
          assert.ok(tree.pictures.every((p) => p.length <= 4), JSON.stringify(tree.pictures));
          await until("the audit event of the restart", () =>
            Promise.resolve(
              audit.records.some((r) => r.action === "restart" && r.target === "web"),
            ));
          const restart = audit.records.find((r) => r.action === "restart")!;
          assert.equal(restart.by.via, "page");
          assert.deepEqual(restart.detail, { rolling: true });
        },
      );

      await t.step("a crash shows in the timeline and the restart count rises", async () => {
        await page.locator("tr[data-container=fragile]").click(); // retried if the row is rebuilt
        await page.type("#topic", "crash");
        await page.click("#call");
        await until(
          "the reply",
          async () => (await text(page, "#call-result")).includes("falling over"),
        );
        await page.waitForSelector("#timeline li[data-type=exit][data-container=fragile]");
        await page.waitForSelector("#timeline li[data-type=restart][data-container=fragile]");
        assert.match(await text(page, "#timeline li[data-type=exit]"), /fragile#0\.1 exited/);
        await until(
          "fragile's restart count at 1",
          async () =>
            await page.$eval(
              "tr[data-container=fragile]",
              (el) => el.getAttribute("data-restarts"),
            ) ===
              "1",
        );
        await until(
          "fragile running again",
          async () => await count(page, "tr[data-instance^='fragile#'][data-state=running]") === 1,
        );
      });

      await t.step("the log tail streams new lines and the filter keeps only matches", async () => {
        await page.locator("tr[data-container=web]").click(); // retried if the row is rebuilt
        await page.$eval("#topic", (el) => ((el as unknown as Field).value = "say"));
        await page.$eval(
          "#call-body",
          (el) => ((el as unknown as Field).value = '{"text": "hello from the page"}'),
        );
        await page.click("#call");
        await until(
          "the logged line",
          async () => (await text(page, "#logs")).includes("hello from the page"),
        );
        await page.type("#log-filter", "hello from");
        await until("only matching lines", async () => {
          const lines = await page.$$eval("#logs > div", (els) => els.map((el) => el.textContent));
          return lines.length >= 1 && lines.every((line) => line!.includes("hello from"));
        });
        await page.$eval("#log-filter", (el) => ((el as unknown as Field).value = ""));
        await page.type("#log-filter", "no line says this");
        await until("no line", async () => await count(page, "#logs > div") === 0);
      });

      await t.step("what a container logs or answers is shown as text, never as HTML", async () => {
        const html = '<img src="x" id="injected"><b>bold</b>';
        await page.$eval("#log-filter", (el) => ((el as unknown as Field).value = ""));
        await page.$eval(
          "#call-body",
          (el, body) => ((el as unknown as Field).value = body),
          JSON.stringify({ text: html }),
        );
        await page.click("#call");
        await until("the line", async () => (await text(page, "#logs")).includes(html));
        assert.equal(await count(page, "#injected"), 0);
        assert.equal(await count(page, "#logs b, #call-result b"), 0);
      });

      await t.step("an edited topology shows its plan before it is applied", async () => {
        assert.ok(await page.$eval("#apply", (el) => (el as unknown as Field).disabled));
        const yaml = await page.$eval("#topology", (el) => (el as unknown as Field).value);
        assert.match(yaml, /token: \$\{KRAKEN_TOKEN\}/);
        const edited = yaml.replace(
          "management:",
          `  extra:\n    module: ${
            new URL("../fixtures/cli/containers/web.ts", import.meta.url).pathname
          }\n    mode: inline\nmanagement:`,
        );
        await page.$eval("#topology", (el, v) => ((el as unknown as Field).value = v), edited);
        await page.click("#plan");
        await until("the plan", async () => (await text(page, "#plan-text")).includes("extra"));
        assert.equal(await count(page, "tr[data-container=extra]"), 0, "not applied yet");
        await page.click("#apply");
        await page.waitForSelector("tr[data-container=extra]");
        assert.match(await text(page, "#plan-text"), /^Applied:/);
        await page.waitForSelector("#timeline li[data-type=apply][data-container=extra]");
        assert.match(
          await text(page, "#timeline li[data-type=apply][data-container=extra]"),
          /apply step: add extra \(inline ×1\)/,
        );
      });

      await t.step("with no containers left the tree says so", async () => {
        await page.$eval(
          "#topology",
          (el) => ((el as unknown as Field).value = "name: shop\ncontainers: {}\n"),
        );
        await page.click("#plan");
        await until("the plan", async () => (await text(page, "#plan-text")).includes("fragile"));
        await page.click("#apply");
        await page.waitForSelector("#no-containers");
        assert.match(await text(page, "#no-containers"), /No containers/);
      });

      await t.step(
        "signing out ends the session, clears the cookie and forgets the key",
        async () => {
          await page.click("#sign-out");
          await page.waitForSelector("#sign-in", { visible: true });
          assert.equal(await text(page, "#sign-in-error"), "Signed out.");
          await until("no cookie", async () => (await browser.cookies()).length === 0);
          assert.equal(await page.evaluate('localStorage.getItem("kraken-session-key")'), null);
          // In again, for the last step.
          await page.type("#token", TOKEN);
          await page.click("#sign-in-form button");
          await page.waitForSelector("#conn[data-state=live]");
        },
      );

      await t.step("when the runtime shuts down the page says it is gone", async () => {
        const res = await fetch(new URL("v1/shutdown", shop.url), {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        assert.equal(res.status, 202);
        await res.body?.cancel();
        await until(
          "the gone state",
          async () => await page.$eval("#conn", (el) => el.getAttribute("data-state")) === "gone",
        );
        assert.match(await text(page, "#banner"), /runtime is gone/);
        assert.equal(await shop.running.exit(), 0);
      });
      assert.deepEqual(errors, [], "no script errors in the page");
    } finally {
      await audit.close();
      await browser.close();
      await shop.stop();
    }
  },
});

Deno.test({
  name:
    "the dashboard shows an agent's containers under their host, with the memory and CPU the agent measures",
  ignore: !CHROMIUM,
  async fn() {
    const agent = await startAgent("node-b");
    try {
      const shop = await startShop(TOKEN, { name: agent.name, url: agent.url, secret: SECRET });
      const browser = await launchBrowser(CHROMIUM!);
      try {
        const page = await browser.newPage();
        page.setDefaultTimeout(WAIT);
        await page.goto(shop.url);
        await page.waitForSelector("#token", { visible: true });
        await page.type("#token", TOKEN);
        await page.click("#sign-in-form button");
        await until(
          "stock running on node-b",
          async () => await count(page, "tr[data-instance^='stock#'][data-state=running]") === 1,
        );
        // The rows in order: each container's host is the host row above it.
        const hostOf = await page.$$eval("#tree tr", (rows) => {
          const out: Record<string, string> = {};
          let host = "";
          for (const row of rows) {
            host = row.getAttribute("data-host") ?? host;
            const name = row.getAttribute("data-container");
            if (name) out[name] = host;
          }
          return out;
        });
        assert.deepEqual(hostOf, {
          web: "local",
          jobs: "local",
          fragile: "local",
          stock: "node-b",
        });
        assert.match(await text(page, "tr[data-container=stock]"), /remote/);
        // Memory and CPU of the agent's instance, measured there (a process of the agent's).
        const cells = (selector: string) =>
          page.$$eval(`${selector} td`, (tds) => tds.map((td) => td.textContent ?? ""));
        await until("stock's memory and CPU from its agent", async () => {
          const row = await cells("tr[data-instance^='stock#']");
          return /^\d+\.\d MiB$/.test(row[6] ?? "") && /^\d+\.\d%$/.test(row[7] ?? "");
        });
        const container = await cells("tr[data-container=stock]");
        assert.match(container[6], /^\d+\.\d MiB$/, container.join(" | "));
        assert.match(container[7], /^\d+\.\d%$/, container.join(" | "));
      } finally {
        await browser.close();
        await shop.stop();
      }
    } finally {
      await agent.stop();
    }
  },
});
