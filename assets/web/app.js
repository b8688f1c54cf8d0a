// blast's dashboard: one EventSource feeds the page; every string from the run is written
// with textContent (never as markup), so task names and messages always show as text.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const $ = (id) => document.getElementById(id);
  // Columns for uPlot: t, req/s, failures/s, p50, p95, p99, users.
  const data = [[], [], [], [], [], [], []];
  let edits = [];
  let steps = [];
  let charts = [];
  let state = null;

  const text = (tag, s, cls) => {
    const el = document.createElement(tag);
    el.textContent = s == null ? "" : String(s);
    if (cls) el.className = cls;
    return el;
  };
  const fmt = (v, digits) => {
    if (v == null) return "\u2014";
    if (digits != null) return v.toFixed(digits);
    return v >= 100 ? Math.round(v).toString() : (Math.round(v * 100) / 100).toString();
  };

  // ---- charts (assets/web/charts.js, shared with the HTML report) ----------------------
  function chartWidth() {
    return Math.max(600, Math.min(1400, document.body.clientWidth - 60));
  }
  function buildCharts() {
    for (const c of charts) c.u.destroy();
    const hosts = { rps: $("chart-rps"), latency: $("chart-latency"), users: $("chart-users") };
    charts = window.blastCharts.build(hosts, data, chartWidth(), () => edits.concat(steps.map(stepMark)));
  }
  function redraw() {
    for (const c of charts) c.u.setData(c.pick());
  }
  function addPoint(p) {
    for (let i = 0; i < data.length; i++) data[i].push(p[i]);
  }

  // ---- tables -------------------------------------------------------------------------
  function statsRow(r, total) {
    const tr = document.createElement("tr");
    tr.append(text("td", r.method), text("td", r.name),
      text("td", r.requests, "n"), text("td", r.failures, "n"),
      text("td", fmt(r.median), "n"), text("td", fmt(r.p90), "n"), text("td", fmt(r.p95), "n"),
      text("td", fmt(r.p99), "n"), text("td", fmt(r.avg), "n"), text("td", fmt(r.min), "n"),
      text("td", fmt(r.max), "n"), text("td", fmt(r.size, 0), "n"),
      text("td", fmt(r.rps, 1), "n"), text("td", fmt(r.fps, 1), "n"));
    if (total) tr.className = "total";
    return tr;
  }
  function showFrame(f) {
    if (!f) {
      $("stats").tBodies[0].replaceChildren();
      $("stats").tFoot.replaceChildren();
      $("failures").tBodies[0].replaceChildren();
      $("errors").tBodies[0].replaceChildren();
      return;
    }
    $("stats").tBodies[0].replaceChildren(...f.rows.map((r) => statsRow(r, false)));
    $("stats").tFoot.replaceChildren(statsRow(f.aggregated, true));
    $("failures").tBodies[0].replaceChildren(...f.failures.map((x) => {
      const tr = document.createElement("tr");
      tr.append(text("td", x.method), text("td", x.name), text("td", x.message), text("td", x.count, "n"));
      return tr;
    }));
    $("errors").tBodies[0].replaceChildren(...f.errors.map((x) => {
      const tr = document.createElement("tr");
      tr.append(text("td", x.kind), text("td", x.count, "n"), text("td", x.message));
      return tr;
    }));
    $("n-failures").textContent = f.failures.length ? "(" + f.failures.length + ")" : "";
    $("n-errors").textContent = f.errors.length ? "(" + f.errors.length + ")" : "";
    const a = f.aggregated;
    $("head-rps").textContent = fmt(a.rps, 1);
    $("head-fail").textContent = a.requests ? fmt(100 * a.failures / a.requests, 0) + "%" : "0%";
    $("head-users").textContent = f.point[6];
  }

  // A study's steps (blast limit, blast compare): one row each, one marker each.
  function stepMark(st, i) {
    return { t: st.t, kind: "step", verdict: st.verdict, label: "#" + (i + 1) + (st.label ? " " + st.label : "") };
  }
  function stepRow(st, i) {
    const tr = document.createElement("tr");
    const l = st.latency_ms || {};
    tr.append(text("td", i + 1, "n"), text("td", st.target),
      text("td", fmt(st.offered, 1), "n"), text("td", fmt(st.achieved, 1), "n"),
      text("td", fmt(l.p50), "n"), text("td", fmt(l.p95), "n"), text("td", fmt(l.p99), "n"),
      text("td", st.failures, "n"), text("td", fmt(100 * st.failure_share, 2), "n"),
      text("td", st.label || "measured"), text("td", st.reasons.join("; ")));
    tr.className = "verdict-" + (st.verdict || "none");
    return tr;
  }
  function showSteps() {
    $("steps-tab").hidden = !(state && state.study);
    $("steps").tBodies[0].replaceChildren(...steps.map(stepRow));
    $("n-steps").textContent = steps.length ? "(" + steps.length + ")" : "";
  }

  // ---- state --------------------------------------------------------------------------
  function planLine(p) {
    if (!p) return "";
    const load = p.load.model === "open"
      ? p.load.rate + " req/s over at most " + p.load.conns + " connections"
      : p.load.users + " users";
    const parts = [p.url, p.scenario ? "scenario " + p.scenario : p.method, load,
      "pipeline " + p.pipeline, p.workers + " workers", "driver " + p.driver,
      p.duration == null ? "until stopped" : p.duration + " s"];
    if (state && state.study) parts.unshift(state.study);
    return parts.join(" \u00b7 ");
  }
  function fillDefaults(s) {
    const sel = $("f-scenario");
    if (s.scenarios && sel.options.length === 1) {
      for (const name of s.scenarios) sel.append(text("option", name));
    }
    const d = s.defaults || {};
    for (const k of ["url", "users", "spawn_rate", "rate", "pipeline", "duration"]) {
      if (d[k] != null && $("f-" + k).value === "") $("f-" + k).value = d[k];
    }
    if (d.scenario && sel.value === "") sel.value = d.scenario;
  }
  function applyState(s) {
    state = s;
    document.body.dataset.phase = s.phase;
    $("phase").textContent = s.phase;
    $("plan").textContent = planLine(s.plan);
    const ui = s.mode === "ui";
    $("start").hidden = !(ui && s.phase === "idle");
    $("run").hidden = s.phase === "idle";
    $("stop").hidden = s.phase !== "running";
    $("new").hidden = !(ui && s.phase === "finished");
    $("edit-form").hidden = !(ui && s.phase === "running");
    if (ui) fillDefaults(s);
    for (const col of data) col.length = 0;
    for (const p of s.points) addPoint(p);
    edits = s.edits.slice();
    steps = (s.steps || []).slice();
    showSteps();
    showFrame(s.latest && s.latest.rows ? s.latest : null);
    if (!charts.length && s.phase !== "idle") buildCharts();
    redraw();
  }

  // ---- control ------------------------------------------------------------------------
  function clearErrors(prefix) {
    for (const el of document.querySelectorAll(".err")) {
      if (el.id.startsWith(prefix)) el.textContent = "";
    }
    for (const el of document.querySelectorAll("input.bad")) el.classList.remove("bad");
  }
  async function post(path, body) {
    const r = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    let reply = {};
    try { reply = await r.json(); } catch (e) { reply = { field: "form", message: r.status + " " + r.statusText }; }
    return { ok: r.ok, reply };
  }
  function formData(form) {
    const out = {};
    for (const [k, v] of new FormData(form).entries()) out[k] = String(v);
    return out;
  }
  $("start-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors("err-");
    const { ok, reply } = await post("/api/start", formData($("start-form")));
    if (!ok) {
      const field = $("err-" + reply.field) ? reply.field : "form";
      $("err-" + field).textContent = reply.message;
      const input = $("f-" + field);
      if (input) input.classList.add("bad");
    }
  });
  $("edit-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("err-edit").textContent = "";
    const { ok, reply } = await post("/api/edit", formData($("edit-form")));
    if (!ok) $("err-edit").textContent = reply.message;
  });
  $("stop").addEventListener("click", () => post("/api/stop"));
  $("new").addEventListener("click", () => post("/api/reset"));
  for (const b of document.querySelectorAll(".tabs button")) {
    b.addEventListener("click", () => {
      for (const o of document.querySelectorAll(".tabs button")) o.classList.toggle("on", o === b);
      for (const t of document.querySelectorAll(".tab")) t.hidden = t.id !== "tab-" + b.dataset.tab;
      if (b.dataset.tab === "charts") for (const c of charts) c.u.setSize({ width: chartWidth(), height: window.blastCharts.HEIGHT });
    });
  }
  window.addEventListener("resize", () => {
    for (const c of charts) c.u.setSize({ width: chartWidth(), height: window.blastCharts.HEIGHT });
  });

  // ---- stream -------------------------------------------------------------------------
  const es = new EventSource("/api/stream");
  es.addEventListener("state", (e) => applyState(JSON.parse(e.data)));
  es.addEventListener("second", (e) => {
    const f = JSON.parse(e.data);
    addPoint(f.point);
    if (state) state.latest = f;
    showFrame(f);
    redraw();
  });
  es.addEventListener("edit", (e) => {
    edits.push(JSON.parse(e.data));
    redraw();
  });
  es.addEventListener("step", (e) => {
    steps.push(JSON.parse(e.data));
    showSteps();
    redraw();
  });
  es.onerror = () => { $("phase").textContent = "disconnected"; };

  // For tests and the curious: what the charts hold.
  window.blast = { data, edits: () => edits, steps: () => steps, state: () => state, redraw };
})();
