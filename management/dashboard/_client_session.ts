/**
 * Part of the dashboard's script (see `client.ts`): helpers, sign-in and sign-out, the streams
 * ({@linkcode SESSION_JS}, first), and the start ({@linkcode START_JS}, last). It shares one
 * function scope with `_client_panels.ts`.
 *
 * @module
 */

/**
 * The source of this part.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SESSION_JS } from "./_client_session.ts";
 * assert.ok(SESSION_JS.includes("x-kraken-session"));
 * ```
 */
export const SESSION_JS: string = String
  .raw`  var $ = function (id) { return document.getElementById(id); };
  var state = {
    snapshot: null, selected: null, series: {}, logs: [], streams: [], live: false,
    plannedText: null,
  };
  var MAX_SAMPLES = 300, MAX_LOGS = 1000, MAX_EVENTS = 200;
  // The session's key: sent with the cookie on every request. Kept in this origin's storage,
  // which a server on another port of the same host (to which the browser also sends the cookie)
  // cannot read.
  var KEY = "kraken-session-key";
  function sessionKey() {
    try { return localStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }
  function keepKey(key) {
    try {
      if (key) localStorage.setItem(KEY, key);
      else localStorage.removeItem(KEY);
    } catch (e) { /* storage refused: the session lasts as long as the page */ }
  }

  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var key in attrs || {}) {
      if (key === "text") el.textContent = attrs[key];
      else if (key === "class") el.className = attrs[key];
      // Through the CSSOM: the page's CSP refuses style attributes.
      else if (key === "indent") el.style.paddingLeft = attrs[key] + "px";
      else if (attrs[key] !== undefined && attrs[key] !== null) el.setAttribute(key, attrs[key]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return el;
  }

  function banner(text, kind) {
    var el = $("banner");
    el.hidden = !text;
    el.textContent = text || "";
    el.setAttribute("data-kind", kind || "error");
  }

  function setConn(s, text) {
    var el = $("conn");
    el.setAttribute("data-state", s);
    el.textContent = text;
  }

  function duration(ms) {
    if (!ms) return "-";
    var s = Math.floor(ms / 1000);
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m " + (s % 60) + "s";
    return Math.floor(m / 60) + "h " + (m % 60) + "m";
  }
  function bytes(n) {
    if (n === null || n === undefined) return "-";
    return (n / 1048576).toFixed(1) + " MiB";
  }
  function num(n, digits) {
    if (n === null || n === undefined) return "-";
    return Number(n).toFixed(digits === undefined ? 1 : digits);
  }
  function clock(t) {
    return new Date(t).toTimeString().slice(0, 8);
  }

  async function api(method, path, body) {
    var init = {
      method: method, credentials: "same-origin", headers: { "x-kraken-session": sessionKey() },
    };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    var res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      runtimeGone();
      throw new Error("the runtime does not answer");
    }
    var data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401) {
      showSignIn("Your session ended: sign in again.");
      throw new Error("unauthorised");
    }
    if (!res.ok) {
      var message = data && data.error ? data.error.message : "HTTP " + res.status;
      var error = new Error(message);
      error.status = res.status;
      throw error;
    }
    return data;
  }

  // ---- sign-in -----------------------------------------------------------------------------
  function showSignIn(message) {
    closeStreams();
    keepKey("");
    state.live = false;
    $("dashboard").hidden = true;
    $("sign-out").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
    setConn("connecting", "signed out");
    $("token").focus();
  }

  $("sign-in-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    var input = $("token");
    var token = input.value;
    input.value = ""; // the token stays nowhere in the page
    $("sign-in-error").textContent = "";
    var res;
    try {
      res = await fetch("/session", {
        method: "POST", credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: token }),
      });
    } catch (e) {
      $("sign-in-error").textContent = "The runtime does not answer.";
      return;
    }
    token = "";
    var data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.ok && data && data.key) {
      keepKey(data.key);
      return showDashboard();
    }
    $("sign-in-error").textContent = res.status === 401
      ? "Wrong token."
      : (data && data.error ? data.error.message : "Sign-in failed: HTTP " + res.status);
  });

  $("sign-out").addEventListener("click", async function () {
    try { await api("DELETE", "/session"); } catch (e) { /* signed out either way */ }
    showSignIn("Signed out.");
  });

  // ---- streams -----------------------------------------------------------------------------
  function closeStreams() {
    state.streams.forEach(function (s) { s.close(); });
    state.streams = [];
  }

  function runtimeGone() {
    state.live = false;
    setConn("gone", "runtime gone");
    banner("The runtime is gone (shut down or unreachable). Retrying…");
    document.body.classList.add("stale");
  }

  async function checkSession() {
    try {
      var res = await fetch("/session", {
        credentials: "same-origin", headers: { "x-kraken-session": sessionKey() },
      });
      var data = await res.json();
      return data.signedIn ? "in" : "out";
    } catch (e) {
      return "gone";
    }
  }

  // Server-sent events read with fetch, not EventSource: EventSource cannot send the session's
  // key header. handlers maps an event type to its function ("*": any other type, called with the
  // type first); closed(status) is called once when the stream ends or fails (not when the page
  // closes it).
  function openStream(path, handlers, closed) {
    var controller = new AbortController();
    (async function () {
      var status = 0;
      try {
        var res = await fetch(path, {
          credentials: "same-origin", signal: controller.signal,
          headers: { "x-kraken-session": sessionKey(), accept: "text/event-stream" },
        });
        status = res.status;
        if (res.ok) {
          var reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          var buffer = "";
          while (true) {
            var chunk = await reader.read();
            if (chunk.done) break;
            buffer += chunk.value;
            var at;
            while ((at = buffer.indexOf("\n\n")) >= 0) {
              var type = "message", data = "";
              buffer.slice(0, at).split("\n").forEach(function (line) {
                if (line.indexOf("event: ") === 0) type = line.slice(7);
                else if (line.indexOf("data: ") === 0) data += line.slice(6);
              });
              buffer = buffer.slice(at + 2);
              if (!data) continue;
              if (handlers[type]) handlers[type](JSON.parse(data));
              else if (handlers["*"]) handlers["*"](type, JSON.parse(data));
            }
          }
        }
      } catch (e) {
        if (!controller.signal.aborted) console.warn("stream " + path + ": " + e.message);
      }
      if (!controller.signal.aborted) closed(status);
    })();
    return { close: function () { controller.abort(); } };
  }

  // One stream ended (the runtime shut down, or the session did): find out which, and say so.
  async function streamClosed() {
    closeStreams();
    var verdict = await checkSession();
    if (verdict === "out") showSignIn("Your session ended: sign in again.");
    else if (verdict === "gone") {
      runtimeGone();
      setTimeout(retry, 2000);
    } else {
      setConn("connecting", "reconnecting…");
      setTimeout(retry, 1000);
    }
  }

  function openStreams() {
    closeStreams();
    // A reconnect sends the recent log lines again.
    state.logs = [];
    $("logs").textContent = "";
    var feed = openStream("/v1/dashboard/stream", {
      history: function (data) { state.series = data.series || {}; },
      snapshot: function (data) {
        if (!state.live) {
          state.live = true;
          setConn("live", "live");
          banner("");
          document.body.classList.remove("stale");
        }
        onSnapshot(data);
      },
    }, streamClosed);
    // Every type the runtime streams, those added after this page was written included.
    var events = openStream("/v1/events", { "*": onEvent }, streamClosed);
    var logs = openStream("/v1/logs?follow=1&tail=200", { log: onLog }, streamClosed);
    state.streams = [feed, events, logs];
  }

  async function retry() {
    if (state.streams.length > 0) return;
    var verdict = await checkSession();
    if (verdict === "in") openStreams();
    else if (verdict === "out") showSignIn("Your session ended: sign in again.");
    else setTimeout(retry, 2000);
  }

  async function showDashboard() {
    $("sign-in").hidden = true;
    $("dashboard").hidden = false;
    $("sign-out").hidden = false;
    setConn("connecting", "connecting…");
    $("timeline").textContent = "";
    openStreams();
    loadTopology();
  }
`;

/**
 * The start, run after both parts: the sign-in form, or the dashboard when a session lives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { START_JS } from "./_client_session.ts";
 * assert.ok(START_JS.includes("checkSession"));
 * ```
 */
export const START_JS: string = String
  .raw`  // ---- start -------------------------------------------------------------------------------
  (async function start() {
    var verdict = await checkSession();
    if (verdict === "in") showDashboard();
    else if (verdict === "out") showSignIn("");
    else {
      runtimeGone();
      setTimeout(start, 2000);
    }
  })();
`;
