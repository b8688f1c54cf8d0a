// The over-time charts, drawn with uPlot: shared by the live dashboard and the HTML report, so
// a saved report looks like the last frame of the live page. `data` is columnar: t, req/s,
// failures/s, p50, p95, p99 (ms), users; `edits()` returns the change log ({t, what}) drawn
// as dashed markers, and on the dashboard a study's steps ({t, kind: "step", verdict, label}).
"use strict";
window.blastCharts = (function () {
  const HEIGHT = 260;
  // Edits are dashed orange lines; a study's steps (`kind: "step"`) solid lines coloured by
  // verdict, each with its short label at the top.
  const STEP_COLOURS = { sustainable: "#2ca02c", unsustainable: "#d62728", client_limit: "#9467bd" };
  function markers(edits) {
    return {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          ctx.save();
          ctx.font = Math.round(11 * devicePixelRatio) + "px sans-serif";
          for (const e of edits()) {
            const step = e.kind === "step";
            const x = Math.round(u.valToPos(e.t, "x", true));
            ctx.strokeStyle = step ? (STEP_COLOURS[e.verdict] || "#777") : "#b06000";
            ctx.setLineDash(step ? [] : [4, 4]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            if (e.label) {
              ctx.fillStyle = ctx.strokeStyle;
              ctx.fillText(e.label, x + 3, u.bbox.top + 12 * devicePixelRatio);
            }
          }
          ctx.restore();
        }],
      },
    };
  }
  // Room for the widest tick label, so the axis title never sits on the numbers.
  function axisSize(u, values) {
    const widest = (values || []).reduce((w, v) => Math.max(w, String(v).length), 0);
    return Math.max(50, 24 + widest * 8);
  }
  function make(el, width, title, series, pick, yLabel, edits) {
    const opts = {
      title, width, height: HEIGHT,
      scales: { x: { time: false } },
      axes: [{ label: "seconds" }, { label: yLabel, size: axisSize }],
      series: [{ label: "t" }].concat(series),
      plugins: [markers(edits)],
    };
    return { u: new uPlot(opts, pick(), el), pick };
  }
  // The three charts in `hosts` ({rps, latency, users} elements).
  function build(hosts, data, width, edits) {
    return [
      make(hosts.rps, width, "Total requests per second",
        [{ label: "req/s", stroke: "#2b7bb9", width: 2 }, { label: "failures/s", stroke: "#d62728", width: 2 }],
        () => [data[0], data[1], data[2]], "per second", edits),
      make(hosts.latency, width, "Response times (ms)",
        [{ label: "p50", stroke: "#2ca02c", width: 2 }, { label: "p95", stroke: "#ff7f0e", width: 2 },
         { label: "p99", stroke: "#9467bd", width: 2 }],
        () => [data[0], data[3], data[4], data[5]], "ms", edits),
      make(hosts.users, width, "Number of users",
        [{ label: "users", stroke: "#555", width: 2 }],
        () => [data[0], data[6]], "users", edits),
    ];
  }
  // Columnar data from points `[t, rps, fps, p50, p95, p99, users]`.
  function columns(points) {
    const data = [[], [], [], [], [], [], []];
    for (const p of points) for (let i = 0; i < data.length; i++) data[i].push(p[i]);
    return data;
  }
  return { build, columns, HEIGHT };
})();
