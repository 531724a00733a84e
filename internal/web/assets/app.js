// Gantry's pages: live updates over server-sent events, ticking clocks.
// Plain JavaScript with no build step. Text from events is only ever set
// with textContent, never parsed as HTML.
"use strict";

(function () {
  var STATUSES = ["pending", "running", "succeeded", "failed", "cancelled", "skipped", "timed-out"];
  var TERMINAL = ["succeeded", "failed", "cancelled", "skipped", "timed-out"];
  var STREAMS = ["stdout", "stderr", "system"];
  var MAX_LOG_LINES = 10000;
  var stream = null; // the page's EventSource

  function statusClass(s) {
    return STATUSES.indexOf(s) >= 0 ? "status-" + s : "status-unknown";
  }

  function setStatusClass(el, s) {
    el.classList.forEach(function (c) {
      if (c.indexOf("status-") === 0) el.classList.remove(c);
    });
    el.classList.add(statusClass(s));
  }

  // The same words as the server's formatDuration and agoAt.
  function formatDuration(ms) {
    if (!(ms > 0)) return "";
    if (ms < 1000) return Math.floor(ms) + "ms";
    var s = Math.floor(ms / 1000);
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m " + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(m / 60) + "h " + String(m % 60).padStart(2, "0") + "m";
  }

  function plural(n, unit) {
    if (n < 1) n = 1;
    return n === 1 ? "1 " + unit : n + " " + unit + "s";
  }

  function ago(ms) {
    if (ms < 45000) return "just now";
    if (ms < 90 * 60000) return plural(Math.round(ms / 60000), "minute") + " ago";
    if (ms < 36 * 3600000) return plural(Math.floor(ms / 3600000 + 0.5), "hour") + " ago";
    return plural(Math.floor(ms / 86400000 + 0.5), "day") + " ago";
  }

  function time(s) {
    if (!s) return 0;
    var t = Date.parse(s);
    return isNaN(t) ? 0 : t;
  }

  function field(root, name) {
    return root.querySelector('[data-field="' + name + '"]');
  }

  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }

  // byData finds the element under root whose data-KEY is value, without
  // putting value in a selector.
  function byData(root, selector, key, value) {
    var all = root.querySelectorAll(selector);
    for (var i = 0; i < all.length; i++) {
      if (all[i].dataset[key] === value) return all[i];
    }
    return null;
  }

  // showDuration writes how long something took, or ticks while it runs.
  function showDuration(el, status, started, finished, empty) {
    if (!el) return;
    var s = time(started), f = time(finished);
    if (status === "running" && s) {
      el.dataset.since = started;
      setText(el, formatDuration(Date.now() - s));
      return;
    }
    delete el.dataset.since;
    setText(el, s && f ? formatDuration(f - s) : (empty || ""));
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      setText(el, formatDuration(now - time(el.dataset.since)));
    });
  }

  function tickAgo() {
    var now = Date.now();
    document.querySelectorAll('time[data-field="when"]').forEach(function (el) {
      var t = time(el.getAttribute("datetime"));
      if (t) setText(el, ago(now - t));
    });
  }

  function cloneTemplate(id) {
    var t = document.getElementById(id);
    return t ? t.content.firstElementChild.cloneNode(true) : null;
  }

  // --- runs lists: the dashboard and a project's page ---

  function fillRunRow(li, run) {
    li.className = "run";
    setStatusClass(li, run.status);
    li.dataset.run = run.id;
    li.dataset.project = run.project || "";
    var a = li.querySelector("a");
    if (a) a.setAttribute("href", "/runs/" + encodeURIComponent(run.id));
    var tr = run.trigger || {};
    setText(field(li, "status"), run.status);
    setText(field(li, "branch"), tr.branch || "");
    setText(field(li, "commit"), (tr.commit || "").slice(0, 10));
    setText(field(li, "reason"), run.reason || "");
    showDuration(field(li, "duration"), run.status, run.started_at, run.finished_at);
    var when = field(li, "when");
    if (when && run.created_at) {
      when.setAttribute("datetime", run.created_at);
      when.setAttribute("title", run.created_at);
      setText(when, ago(Date.now() - time(run.created_at)));
    }
  }

  function updateRunLists(run) {
    if (!run || !run.id) return;
    document.querySelectorAll(".project-card, .project-runs").forEach(function (box) {
      if (box.dataset.project !== run.project) return;
      if (box.dataset.branch && (!run.trigger || run.trigger.branch !== box.dataset.branch)) return;
      var list = box.querySelector("ol.runs");
      if (!list) return;
      var li = byData(list, "li.run", "run", run.id);
      if (!li) {
        li = cloneTemplate("run-row");
        if (!li) return;
        list.insertBefore(li, list.firstElementChild);
        var limit = parseInt(box.dataset.limit, 10) || 5;
        while (list.children.length > limit) list.removeChild(list.lastElementChild);
        var empty = box.querySelector(".no-runs");
        if (empty) empty.hidden = true;
      }
      fillRunRow(li, run);
    });
  }

  // --- one run's page ---

  function runHead(run) {
    var head = document.getElementById("run-head");
    if (!head || !run) return;
    var was = head.dataset.status;
    head.dataset.status = run.status;
    setStatusClass(head, run.status);
    setText(field(head, "status"), run.status);
    showDuration(field(head, "duration"), run.status, run.started_at, run.finished_at, "—");
    var reason = field(head, "reason");
    if (reason) {
      setText(reason, run.reason || "");
      reason.hidden = !run.reason;
    }
    if (TERMINAL.indexOf(run.status) >= 0 && TERMINAL.indexOf(was) < 0) {
      // The run changes no more: let the stream go, and show what it left.
      if (stream) stream.close();
      var indicator = document.getElementById("live");
      if (indicator) {
        indicator.dataset.state = "done";
        indicator.textContent = "finished";
      }
      refreshEvidence();
    }
  }

  function ensureStage(name) {
    var graph = document.getElementById("graph");
    if (!graph) return null;
    var col = byData(graph, ".stage", "stage", name);
    if (col) return col;
    col = cloneTemplate("stage-column");
    if (!col) return null;
    col.dataset.stage = name;
    setText(col.querySelector(".name"), name);
    var empty = graph.querySelector(".no-steps");
    graph.insertBefore(col, empty);
    if (empty) empty.hidden = true;
    return col;
  }

  function updateStage(st) {
    if (!st || !st.name) return;
    var col = ensureStage(st.name);
    if (!col) return;
    setStatusClass(col, st.status);
    setText(field(col, "status"), st.status);
    var gate = field(col, "gate");
    if (!gate) return;
    var g = st.gate || {};
    var decided = TERMINAL.indexOf(st.status) >= 0 || !!g.decider;
    gate.classList.remove("gate-pending", "gate-allowed", "gate-denied");
    gate.classList.add(decided ? (g.allowed ? "gate-allowed" : "gate-denied") : "gate-pending");
    setText(field(gate, "decision"), decided ? (g.allowed ? "allowed" : "denied") : "waiting");
    var ul = gate.querySelector(".reasons");
    if (ul) {
      while (ul.firstChild) ul.removeChild(ul.firstChild);
      (g.reasons || []).forEach(function (r) {
        var li = document.createElement("li");
        li.textContent = r;
        ul.appendChild(li);
      });
    }
  }

  function stepStatusText(sp) {
    var failed = sp.status === "failed" || sp.status === "timed-out";
    return sp.status + (sp.allow_failure && failed ? " (allowed)" : "");
  }

  function updateStep(sp) {
    if (!sp || !sp.name) return;
    var graph = document.getElementById("graph");
    if (!graph) return;
    var box = byData(graph, "li.step", "step", sp.name);
    if (!box) {
      var col = ensureStage(sp.stage || "");
      box = cloneTemplate("step-box");
      if (!col || !box) return;
      box.dataset.step = sp.name;
      setText(box.querySelector(".name"), sp.name);
      col.querySelector("ol.steps").appendChild(box);
    }
    box.className = "step";
    setStatusClass(box, sp.status);
    setText(field(box, "status"), stepStatusText(sp));
    showDuration(field(box, "duration"), sp.status, sp.started_at, sp.finished_at);
    var log = findLog(sp.name);
    if (sp.status === "running" && !log) log = ensureLog(sp.name);
    if (log) {
      var st = field(log.querySelector("summary"), "status");
      if (st) {
        setStatusClass(st, sp.status);
        setText(st, stepStatusText(sp));
      }
    }
  }

  function findLog(step) {
    var logs = document.getElementById("logs");
    return logs ? byData(logs, "details.log", "step", step) : null;
  }

  function ensureLog(step) {
    var d = findLog(step);
    if (d) return d;
    var logs = document.getElementById("logs");
    d = cloneTemplate("step-log");
    if (!logs || !d) return null;
    d.dataset.step = step;
    setText(d.querySelector(".name"), step);
    var run = document.body.dataset.run || "";
    d.querySelector(".log-links a").setAttribute("href",
      "/runs/" + encodeURIComponent(run) + "/log?step=" + encodeURIComponent(step));
    var empty = logs.querySelector(".no-logs");
    logs.insertBefore(d, empty);
    if (empty) empty.hidden = true;
    return d;
  }

  function appendLines(lines) {
    (lines || []).forEach(function (ln) {
      if (!ln || typeof ln.text !== "string") return;
      var d = ensureLog(ln.step || "");
      if (!d) return;
      var pre = d.querySelector("pre");
      var last = parseInt(pre.dataset.lastSeq, 10) || 0;
      if (ln.seq && ln.seq <= last) return; // rendered with the page already
      if (ln.seq) pre.dataset.lastSeq = String(ln.seq);
      var atEnd = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 8;
      var span = document.createElement("span");
      span.className = "ln ln-" + (STREAMS.indexOf(ln.stream) >= 0 ? ln.stream : "stdout");
      span.textContent = ln.text;
      pre.appendChild(span);
      while (pre.childElementCount > MAX_LOG_LINES) pre.removeChild(pre.firstElementChild);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    });
  }

  // refreshEvidence brings in what a finished run leaves behind (gate
  // decisions, artifacts, attestations, findings) from the page as the
  // server renders it now.
  function refreshEvidence() {
    fetch(location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (res) {
        if (!res.ok) throw new Error("status " + res.status);
        return res.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        ["evidence", "findings-link", "graph"].forEach(function (id) {
          var fresh = doc.getElementById(id), old = document.getElementById(id);
          if (fresh && old) old.replaceWith(document.importNode(fresh, true));
        });
        document.body.dataset.evidence = "loaded";
      })
      .catch(function () {
        document.body.dataset.evidence = "failed";
      });
  }

  // --- the event stream ---

  function parse(ev) {
    try {
      return JSON.parse(ev.data);
    } catch (e) {
      return null;
    }
  }

  function live(url, handlers) {
    var indicator = document.getElementById("live");
    function state(s, text) {
      if (!indicator) return;
      indicator.dataset.state = s;
      indicator.textContent = text;
    }
    if (!window.EventSource) {
      state("offline", "reloads every 30 s");
      setTimeout(function () { location.reload(); }, 30000);
      return;
    }
    var es = new EventSource(url);
    stream = es;
    var broken = 0; // when the stream broke, to reload after a long gap
    es.addEventListener("open", function () {
      if (broken) {
        // Events were missed while it was down: the page as it is now.
        location.reload();
        return;
      }
      state("live", "live");
    });
    es.addEventListener("error", function () {
      if (!broken) broken = Date.now();
      if (es.readyState === EventSource.CLOSED) {
        state("offline", "offline: reloading…");
        setTimeout(function () { location.reload(); }, 15000);
        return;
      }
      state("reconnecting", "reconnecting…");
      if (Date.now() - broken > 60000) location.reload();
    });
    es.addEventListener("reload", function () { location.reload(); });
    Object.keys(handlers).forEach(function (type) {
      es.addEventListener(type, function (ev) {
        var data = parse(ev);
        if (data) handlers[type](data);
      });
    });
  }

  // A step's box opens its log. The listener is on the document: the
  // graph is replaced when the run finishes.
  function openLogOnClick() {
    document.addEventListener("click", function (ev) {
      var box = ev.target.closest && ev.target.closest("#graph li.step");
      if (!box) return;
      var d = findLog(box.dataset.step);
      if (!d) return;
      ev.preventDefault();
      d.open = true;
      d.scrollIntoView({ block: "start", behavior: "smooth" });
    });
  }

  function start() {
    setInterval(tick, 1000);
    setInterval(tickAgo, 30000);
    var kind = document.body.dataset.live;
    if (kind === "runs") {
      var onRun = function (d) { updateRunLists(d.run); };
      live("/events", { "run.queued": onRun, "run.updated": onRun });
    } else if (kind === "run") {
      var id = document.body.dataset.run;
      var mine = function (f) {
        return function (d) { if (!d.run_id || d.run_id === id) f(d); };
      };
      openLogOnClick();
      live("/api/v1/runs/" + encodeURIComponent(id) + "/events", {
        "run.queued": mine(function (d) { runHead(d.run); }),
        "run.updated": mine(function (d) { runHead(d.run); }),
        "stage.updated": mine(function (d) { updateStage(d.stage); }),
        "step.updated": mine(function (d) { updateStep(d.step); }),
        "logs": mine(function (d) { appendLines(d.lines); })
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
