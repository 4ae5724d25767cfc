// `deno task screenshot`: takes docs/images/dashboard.png — the dashboard of a real `kraken start`
// with some traffic (from a container spawned for it: API calls would each be an audit line), an
// error or two and a crash, so every panel has something to show.
import { chromiumPath, launchBrowser, startShop } from "./_dashboard.ts";

const OUT = new URL("../../docs/images/dashboard.png", import.meta.url).pathname;
const TOKEN = "screenshot-" + crypto.randomUUID();
const SHOPPER = new URL("../fixtures/dashboard/containers/shopper.ts", import.meta.url).pathname;

const chromium = chromiumPath();
if (!chromium) {
  console.error("no Chromium at /usr/bin/chromium: apt-get install chromium (or set CHROMIUM)");
  Deno.exit(1);
}

const shop = await startShop(TOKEN);
const browser = await launchBrowser(chromium);
const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const post = async (path: string, body: unknown) => {
  const res = await fetch(new URL(path, shop.url), {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  await res.body?.cancel();
};
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1440, height: 1000, deviceScaleFactor: 1 });
  await page.goto(shop.url);
  await page.waitForSelector("#token", { visible: true });
  await page.type("#token", TOKEN);
  await page.click("#sign-in-form button");
  await page.waitForSelector("tr[data-container=web]");
  await post("v1/containers/web/scale", { replicas: 3 });
  await post("v1/containers/fragile/call", { topic: "crash" });
  await post("v1/containers/web/call", { topic: "say", body: { text: "order 1042 shipped" } });
  await post("v1/containers/web/call", { topic: "fail", body: { message: "out of stock" } });
  // Twenty seconds of uneven traffic, still flowing when the picture is taken.
  await post("v1/containers", { name: "shopper", spec: { module: SHOPPER, mode: "inline" } });
  await page.locator("tr[data-container=web]").click();
  await new Promise((resolve) => setTimeout(resolve, 18_500));
  await page.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);
} finally {
  await browser.close();
  await shop.stop();
}
