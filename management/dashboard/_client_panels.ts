/**
 * Part of the dashboard's script (see `client.ts`): the tree, the container's sparklines and
 * actions, the timeline, the logs and the topology editor. Its functions are called by
 * `_client_session.ts`, in the same function scope.
 *
 * @module
 */

/**
 * The source of this part.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PANELS_JS } from "./_client_panels.ts";
 * assert.ok(PANELS_JS.includes("function renderTree"));
 * ```
 */
export const PANELS_JS: string = String
  .raw`  // ---- tree --------------------------------------------------------------------------------
  function onSnapshot(snapshot) {
    state.snapshot = snapshot;
    for (var name in snapshot.latest) {
      var ring = state.series[name] || (state.series[name] = []);
      var sample = snapshot.latest[name];
      if (ring.length === 0 || ring[ring.length - 1].t < sample.t) ring.push(sample);
      if (ring.length > MAX_SAMPLES) ring.splice(0, ring.length - MAX_SAMPLES);
    }
    $("app-name").textContent = snapshot.tree.name + " · " + snapshot.tree.supervisor.strategy +
      " · " + snapshot.tree.supervisor.state;
    renderTree(snapshot);
    renderDetail();
  }

  function walk(list, depth, out) {
    list.forEach(function (c) {
      out.push({ c: c, depth: depth });
      if (c.children) walk(c.children, depth + 1, out);
    });
    return out;
  }

  function renderTree(snapshot) {
    var tree = snapshot.tree;
    var metrics = {};
    snapshot.metrics.forEach(function (m) { metrics[m.container] = m; });
    var root = $("tree");
    var all = walk(tree.containers, 0, []);
    if (all.length === 0) {
      root.replaceChildren(h("p", { class: "empty", id: "no-containers",
        text: "No containers: this runtime runs none yet. Add some to the topology below, " +
          "show the plan and apply it." }));
      return;
    }
    var table = h("table", {},
      h("thead", {}, h("tr", {},
        h("th", { text: "name / instance" }), h("th", { text: "mode" }), h("th", { text: "state" }),
        h("th", { text: "pid / node" }), h("th", { text: "uptime" }),
        h("th", { text: "restarts" }), h("th", { text: "memory" }), h("th", { text: "CPU" }),
        h("th", { text: "req/s" }))));
    var body = h("tbody");
    table.appendChild(body);
    var hosts = [];
    all.forEach(function (e) { if (hosts.indexOf(e.c.host) < 0) hosts.push(e.c.host); });
    var peers = {};
    (tree.peers || []).forEach(function (p) { peers[p.name] = p; });
    hosts.forEach(function (host) {
      var peer = peers[host];
      body.appendChild(h("tr", { class: "host", "data-host": host },
        h("td", { colspan: "9", text: (host === "local" ? "host local (this runtime)" : "host " + host) +
          (peer ? " · " + peer.state : "") })));
      all.forEach(function (e) {
        if (e.c.host !== host) return;
        renderContainer(body, e.c, e.depth, metrics[e.c.name]);
      });
    });
    (tree.peers || []).forEach(function (p) {
      if (hosts.indexOf(p.name) >= 0) return;
      body.appendChild(h("tr", { class: "host", "data-host": p.name },
        h("td", { colspan: "9", text: "peer " + p.name + " · " + p.state +
          (p.containers.length ? " · " + p.containers.join(", ") : "") })));
    });
    root.replaceChildren(table);
  }

  function containerState(c) {
    if (c.placement && c.placement.state !== "running") return c.placement.state;
    if (c.held) return "stopped";
    if (c.running === c.replicas) return c.replicas === 0 ? "stopped" : "running";
    return "restarting";
  }

  // A container's memory and CPU: its instances' summed, as kraken status shows them (an agent's
  // instances included); null when none reports any.
  function sum(instances, key) {
    var total = null;
    instances.forEach(function (i) {
      if (typeof i[key] === "number") total = (total || 0) + i[key];
    });
    return total;
  }

  function percent(value) {
    return typeof value === "number" ? num(value) + "%" : "-";
  }

  function renderContainer(body, c, depth, m) {
    var latest = state.snapshot.latest[c.name];
    var cstate = containerState(c);
    var row = h("tr", {
      class: "container" + (state.selected === c.name ? " selected" : ""),
      "data-container": c.name, "data-restarts": String(c.restarts),
      "data-running": String(c.running),
    },
      h("td", { indent: 6 + depth * 16 }, h("b", { text: c.name }),
        c.supervisor ? h("span", { class: "muted", text: " supervisor " + c.supervisor.strategy }) : null),
      h("td", {}, h("span", { class: "badge", text: c.mode })),
      h("td", {}, h("span", { class: "state state-" + cstate, text: cstate + " " + c.running + "/" + c.replicas })),
      h("td", { text: "" }), h("td", { text: "" }),
      h("td", { class: "restarts", text: String(c.restarts) }),
      h("td", { text: bytes(sum(c.instances, "memoryBytes") ?? (m ? m.memoryBytes : null)) }),
      h("td", { text: percent(sum(c.instances, "cpuPercent")) }),
      h("td", { text: latest ? num(latest.rps) : "-" }));
    body.appendChild(row);
    c.instances.forEach(function (i) {
      body.appendChild(h("tr", { class: "instance", "data-instance": i.id, "data-state": i.state },
        h("td", { indent: 22 + depth * 16, text: i.id }),
        h("td", { text: "" }),
        h("td", {}, h("span", { class: "state state-" + i.state, text: i.state })),
        h("td", { text: (i.pid ? "pid " + i.pid + " · " : "") + i.node }),
        h("td", { text: duration(i.uptime) }),
        h("td", { text: String(i.restarts) }),
        h("td", { text: bytes(i.memoryBytes) }),
        h("td", { text: percent(i.cpuPercent) }),
        h("td", { text: "" })));
    });
  }

  // One listener on the panel, not one per row: the rows are rebuilt every second, and a click
  // that lands on a row replaced meanwhile still selects its container.
  $("tree").addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("tr[data-container]");
    if (row) select(row.getAttribute("data-container"));
  });

  // ---- detail ------------------------------------------------------------------------------
  function findContainer(name) {
    if (!state.snapshot) return null;
    var all = walk(state.snapshot.tree.containers, 0, []);
    for (var i = 0; i < all.length; i++) if (all[i].c.name === name) return all[i].c;
    return null;
  }

  function select(name) {
    state.selected = name;
    var c = findContainer(name);
    $("replicas").value = c ? String(c.replicas) : "";
    $("call-result").textContent = "";
    if (state.snapshot) renderTree(state.snapshot);
    renderDetail();
  }

  function spark(svgId, values) {
    var svg = $(svgId);
    var w = 300, hgt = 40;
    svg.setAttribute("viewBox", "0 0 " + w + " " + hgt);
    svg.setAttribute("preserveAspectRatio", "none");
    var max = 0;
    values.forEach(function (v) { if (v !== null && v > max) max = v; });
    // At least the last minute across the width; up to five minutes as samples gather.
    var span = Math.max(60, values.length);
    var step = values.length > 1 ? w / (span - 1) : 0;
    var start = w - step * (values.length - 1);
    var points = values.map(function (v, i) {
      var y = hgt - 2 - (max > 0 && v !== null ? (v / max) * (hgt - 4) : 0);
      return (start + i * step).toFixed(1) + "," + y.toFixed(1);
    }).join(" ");
    var line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", points);
    svg.replaceChildren(line);
  }

  function renderDetail() {
    var name = state.selected;
    var c = name ? findContainer(name) : null;
    $("detail").hidden = !c;
    $("detail-title").textContent = c ? name + " (" + c.mode + ", " + c.host + ")"
      : (name ? name + " is gone" : "Select a container");
    if (!c) return;
    var ring = state.series[name] || [];
    ["rps", "p50", "p99", "errors"].forEach(function (key) {
      var values = ring.map(function (s) { return s[key]; });
      spark("s-" + key, values);
      var last = values.length ? values[values.length - 1] : null;
      $("v-" + key).textContent = num(last, key === "rps" || key === "errors" ? 1 : 2);
    });
  }

  async function action(button, run) {
    button.disabled = true;
    try {
      await run();
      banner("");
    } catch (e) {
      if (e.message !== "unauthorised") {
        banner((e.status === 403 ? "Not allowed: " : "Failed: ") + e.message);
      }
    } finally {
      button.disabled = false;
    }
  }

  $("scale").addEventListener("click", function () {
    var name = state.selected;
    var n = Number($("replicas").value);
    action($("scale"), function () {
      return api("POST", "/v1/containers/" + encodeURIComponent(name) + "/scale", { replicas: n });
    });
  });
  $("restart").addEventListener("click", function () {
    var name = state.selected;
    // Rolling: one replica at a time, so the container keeps answering while it restarts.
    action($("restart"), function () {
      return api("POST", "/v1/containers/" + encodeURIComponent(name) + "/restart", {
        rolling: true,
      });
    });
  });
  $("stop").addEventListener("click", function () {
    var name = state.selected;
    if (!confirm("Stop " + name + "? It stays stopped until restarted or scaled.")) return;
    action($("stop"), function () {
      return api("POST", "/v1/containers/" + encodeURIComponent(name) + "/stop");
    });
  });
  $("call").addEventListener("click", function () {
    var name = state.selected;
    var out = $("call-result");
    var text = $("call-body").value.trim();
    var body;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch (e) {
      out.textContent = "The body is not valid JSON: " + e.message;
      return;
    }
    action($("call"), async function () {
      out.textContent = "…";
      try {
        var reply = await api("POST", "/v1/containers/" + encodeURIComponent(name) + "/call",
          { topic: $("topic").value, body: body });
        out.textContent = JSON.stringify(reply, null, 2);
      } catch (e) {
        out.textContent = "Error: " + e.message;
      }
    });
  });

  // ---- timeline and logs -------------------------------------------------------------------
  function describe(type, d) {
    switch (type) {
      case "exit": return d.instance + " exited: " + (d.reason ? (d.reason.kind || "") + " " +
        (d.reason.message || d.reason.error && d.reason.error.message || "") : "");
      case "restart": return d.instance + " restarts in " + d.delay + " ms";
      case "start": return d.instance + " started";
      case "unresponsive": return d.instance + " silent for " + d.silentFor + " ms";
      case "escalate": return "supervisor " + d.supervisor + " gave up" +
        (d.child ? " on " + d.child : "") + ": " + (d.error ? d.error.message : "");
      case "apply": return describeApply(d);
      case "audit": return describeAudit(d);
      default: return JSON.stringify(d);
    }
  }

  function describeStep(step) {
    if (!step) return "";
    var what = step.op + " " + (step.name === null ? "root supervisor" : step.name);
    if (step.op === "scale") what += " " + step.from + " → " + step.to;
    if (step.op === "add") what += " (" + step.mode + " ×" + step.replicas + ")";
    if (step.changes && step.changes.length) what += " (" + step.changes.join(", ") + ")";
    return what;
  }

  // As the runtime's audit log line says it, without the address and client.
  function describeAudit(d) {
    var detail = "";
    for (var key in d.detail || {}) detail += " " + key + "=" + JSON.stringify(d.detail[key]);
    var by = d.by ? " by " + d.by.via + " " + d.by.client : "";
    return d.action + (d.target ? " " + d.target : "") + detail + by +
      (d.ok ? "" : ": failed: " + (d.error || ""));
  }

  function describeApply(d) {
    switch (d.phase) {
      case "start": return "apply: " + (d.plan && d.plan.steps ? d.plan.steps.length : 0) + " step(s)";
      case "step": return "apply step: " + describeStep(d.step);
      case "done": return "apply done";
      case "failed": return "apply failed at " + describeStep(d.step) + ": " + (d.error || "");
      default: return "apply " + (d.phase || "");
    }
  }

  function onEvent(type, data) {
    var list = $("timeline");
    list.insertBefore(h("li", { class: "t-" + type, "data-type": type,
      "data-container": data.container || data.child || (data.step && data.step.name) ||
        data.target || "",
      text: clock(data.time) + " " + type.padEnd(12) + describe(type, data) }), list.firstChild);
    while (list.childNodes.length > MAX_EVENTS) list.removeChild(list.lastChild);
  }

  function logMatches(line, filter) {
    if (!filter) return true;
    var text = (line.level + " " + line.source + " " + line.message).toLowerCase();
    return text.indexOf(filter) >= 0;
  }

  function logNode(line) {
    return h("div", { class: "log-" + line.level, "data-container": line.container || "",
      text: clock(line.time) + " " + line.level.padEnd(5) + " " + line.source + "  " + line.message });
  }

  function onLog(line) {
    state.logs.push(line);
    if (state.logs.length > MAX_LOGS) state.logs.shift();
    var filter = $("log-filter").value.trim().toLowerCase();
    if (!logMatches(line, filter)) return;
    var pre = $("logs");
    var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(logNode(line));
    while (pre.childNodes.length > 300) pre.removeChild(pre.firstChild);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  $("log-filter").addEventListener("input", function () {
    var filter = $("log-filter").value.trim().toLowerCase();
    var lines = state.logs.filter(function (l) { return logMatches(l, filter); }).slice(-300);
    var pre = $("logs");
    pre.replaceChildren.apply(pre, lines.map(logNode));
    pre.scrollTop = pre.scrollHeight;
  });

  // ---- topology ----------------------------------------------------------------------------
  async function loadTopology() {
    try {
      var data = await api("GET", "/v1/dashboard/topology");
      $("topology-file").textContent = data.file || "(started without a file)";
      $("topology").value = data.text || "containers: {}\n";
      state.plannedText = null;
      $("apply").disabled = true;
    } catch (e) { /* shown by api() */ }
  }

  $("topology").addEventListener("input", function () {
    $("apply").disabled = $("topology").value !== state.plannedText;
  });

  $("plan").addEventListener("click", function () {
    var text = $("topology").value;
    action($("plan"), async function () {
      try {
        var result = await api("POST", "/v1/dashboard/apply?dry_run=1", { yaml: text });
        $("plan-text").textContent = result.text || "no changes";
        state.plannedText = text;
        $("apply").disabled = $("topology").value !== text;
      } catch (e) {
        $("plan-text").textContent = "Error: " + e.message;
        state.plannedText = null;
        $("apply").disabled = true;
      }
    });
  });

  $("apply").addEventListener("click", function () {
    var text = state.plannedText;
    // Applied (or refused): the next apply needs a new plan.
    action($("apply"), async function () {
      try {
        var result = await api("POST", "/v1/dashboard/apply", { yaml: text });
        $("plan-text").textContent = "Applied:\n" + (result.text || "no changes");
      } catch (e) {
        $("plan-text").textContent = "Error: " + e.message;
      }
      state.plannedText = null;
    }).then(function () { $("apply").disabled = true; });
  });

`;
