/**
 * The dashboard's page and style, shipped as strings in the package: no CDN, nothing fetched at
 * run time but the API itself. The script is `client.ts`.
 *
 * @module
 */

/**
 * The page: a sign-in form and the dashboard's panels, filled in by `/dashboard/app.js`. It holds
 * nothing secret (served to anyone who asks).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PAGE_HTML } from "./page.ts";
 * assert.ok(PAGE_HTML.includes('src="/dashboard/app.js"'));
 * ```
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kraken</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/app.css">
<script src="/dashboard/app.js" defer></script>
</head>
<body>
<header>
  <span class="brand">Kraken</span>
  <span id="app-name" class="muted"></span>
  <span id="conn" class="conn" data-state="connecting">connecting…</span>
  <button id="sign-out" type="button" hidden>Sign out</button>
</header>
<div id="banner" role="alert" hidden></div>
<section id="sign-in" hidden>
  <form id="sign-in-form" method="post" autocomplete="off">
    <h1>Sign in</h1>
    <p class="muted">Enter the management token (<code>management.token</code> of the topology)
      once; the browser then keeps a session cookie.</p>
    <input id="token" name="token" type="password" placeholder="management token" required>
    <button type="submit">Sign in</button>
    <p id="sign-in-error" class="error" role="alert"></p>
  </form>
</section>
<main id="dashboard" hidden>
  <section class="panel" id="tree-panel">
    <h2>Supervision tree</h2>
    <div id="tree"></div>
  </section>
  <section class="panel" id="detail-panel">
    <h2 id="detail-title">Select a container</h2>
    <div id="detail" hidden>
      <div class="sparks">
        <figure><figcaption>req/s <b id="v-rps"></b></figcaption><svg id="s-rps"></svg></figure>
        <figure><figcaption>p50 ms <b id="v-p50"></b></figcaption><svg id="s-p50"></svg></figure>
        <figure><figcaption>p99 ms <b id="v-p99"></b></figcaption><svg id="s-p99"></svg></figure>
        <figure><figcaption>errors/s <b id="v-errors"></b></figcaption><svg id="s-errors"></svg></figure>
      </div>
      <div class="actions">
        <label>replicas <input id="replicas" type="number" min="0" step="1"></label>
        <button id="scale" type="button">Scale</button>
        <button id="restart" type="button" title="one replica at a time: a new one runs before an old one stops">Restart (rolling)</button>
        <button id="stop" type="button" class="danger">Stop</button>
      </div>
      <div class="call">
        <input id="topic" placeholder="topic">
        <textarea id="call-body" rows="3" placeholder="JSON body, e.g. {&quot;id&quot;: 1}"></textarea>
        <button id="call" type="button">Call</button>
        <pre id="call-result"></pre>
      </div>
    </div>
  </section>
  <section class="panel" id="timeline-panel">
    <h2>Events</h2>
    <ol id="timeline"></ol>
  </section>
  <section class="panel" id="logs-panel">
    <h2>Logs <input id="log-filter" placeholder="filter (text or container)"></h2>
    <pre id="logs"></pre>
  </section>
  <section class="panel" id="topology-panel">
    <h2>Topology <span id="topology-file" class="muted"></span></h2>
    <textarea id="topology" rows="12" spellcheck="false"></textarea>
    <div class="actions">
      <button id="plan" type="button">Show plan</button>
      <button id="apply" type="button" disabled>Apply this plan</button>
    </div>
    <pre id="plan-text"></pre>
  </section>
</main>
</body>
</html>
`;

/**
 * The page's style.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PAGE_CSS } from "./page.ts";
 * assert.ok(PAGE_CSS.includes(".state-running"));
 * ```
 */
export const PAGE_CSS = `
:root { --bg: #111217; --panel: #181b1f; --line: #2c3036; --text: #d8d9da; --muted: #8e9297;
  --ok: #73bf69; --warn: #f2cc0c; --bad: #f2495c; --info: #5794f2; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; gap: 12px; align-items: center; padding: 8px 16px;
  border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; font-size: 16px; }
.muted { color: var(--muted); }
.conn { margin-left: auto; }
.conn::before { content: "●"; margin-right: 4px; }
.conn[data-state=live]::before { color: var(--ok); }
.conn[data-state=connecting]::before { color: var(--warn); }
.conn[data-state=gone]::before { color: var(--bad); }
button { background: #22252b; color: var(--text); border: 1px solid var(--line);
  border-radius: 3px; padding: 4px 10px; cursor: pointer; font: inherit; }
button:hover { border-color: var(--info); }
button:disabled { opacity: .4; cursor: default; }
button.danger:hover { border-color: var(--bad); }
input, textarea { background: #0b0c0e; color: var(--text); border: 1px solid var(--line);
  border-radius: 3px; padding: 4px 6px; font: 12px ui-monospace, monospace; }
#banner { padding: 8px 16px; background: #3a1c20; border-bottom: 1px solid var(--bad); }
#banner[data-kind=info] { background: #1c2a3a; border-color: var(--info); }
#sign-in { display: flex; justify-content: center; padding-top: 12vh; }
#sign-in form { background: var(--panel); border: 1px solid var(--line); padding: 24px;
  width: 360px; display: flex; flex-direction: column; gap: 10px; }
#sign-in h1 { margin: 0; font-size: 18px; }
.error { color: var(--bad); min-height: 1em; margin: 0; }
main { display: grid; grid-template-columns: minmax(420px, 3fr) minmax(320px, 2fr); gap: 12px;
  padding: 12px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 3px;
  padding: 8px 12px; min-width: 0; }
.panel h2 { margin: 0 0 8px; font-size: 13px; font-weight: 600; display: flex; gap: 8px;
  align-items: center; }
#logs-panel, #topology-panel { grid-column: span 1; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; color: var(--muted); font-weight: 500; }
td, th { padding: 2px 6px; white-space: nowrap; border-bottom: 1px solid #22252b; }
tr.container { cursor: pointer; }
tr.container:hover, tr.selected { background: #22262d; }
tr.host td { color: var(--info); font-weight: 600; padding-top: 8px; }
tr.instance td:first-child { color: var(--muted); }
.badge { border: 1px solid var(--line); border-radius: 8px; padding: 0 6px; font-size: 11px; }
.state::before { content: "●"; margin-right: 4px; }
.state-running::before { color: var(--ok); }
.state-starting::before, .state-restarting::before, .state-stopping::before { color: var(--warn); }
.state-stopped::before, .state-gone::before, .state-failed::before { color: var(--bad); }
.state-held::before, .state-placing::before, .state-waiting::before { color: var(--warn); }
.empty { color: var(--muted); padding: 12px 0; }
.sparks { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
figure { margin: 0; }
figcaption { color: var(--muted); font-size: 11px; }
figcaption b { color: var(--text); float: right; }
svg { width: 100%; height: 40px; background: #0b0c0e; display: block; }
polyline { fill: none; stroke: var(--info); stroke-width: 1.5; }
#s-errors polyline { stroke: var(--bad); }
.actions { display: flex; gap: 6px; align-items: center; margin: 8px 0; flex-wrap: wrap; }
.actions input { width: 60px; }
.call { display: grid; gap: 6px; }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; font: 12px ui-monospace, monospace; }
#logs { max-height: 260px; overflow: auto; }
#timeline { list-style: none; margin: 0; padding: 0; max-height: 260px; overflow: auto;
  font: 12px ui-monospace, monospace; }
#timeline li { padding: 1px 0; border-bottom: 1px solid #22252b; }
#timeline .t-exit, #timeline .t-escalate { color: var(--bad); }
#timeline .t-restart, #timeline .t-unresponsive { color: var(--warn); }
#timeline .t-apply { color: var(--info); }
#topology { width: 100%; }
.log-warn { color: var(--warn); }
.log-error { color: var(--bad); }
`;
