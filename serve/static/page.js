// The live chart of a group table: counts (or another measure: an --agg
// column) per window per key, newest windows that fit the width, drawn by
// uPlot (vendored in static/uplot).
// It polls the API every second and fetches only the rows it draws.
"use strict";
(() => {
  const pollMs = 1000;
  const maxPages = 20; // cursor pages followed per poll, at most
  const pxPerWindow = 2; // the narrowest a window may be drawn
  const tableau = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

  const chartEl = document.getElementById("chart");
  const statusEl = document.getElementById("status");
  const measureEl = document.getElementById("measure");
  // The fields every row has; any other is an --agg column, a measure.
  const fixed = new Set(["key", "window_start", "window_end", "count", "final"]);
  let measure = new URLSearchParams(location.search).get("measure") || "count";
  // A row's key: its key, or with several keys (the answer's keys) their
  // values joined.
  let keyNames = null;
  const label = r => keyNames ? keyNames.map(k => r[k]).join(" · ") : r.key;
  measureEl.addEventListener("change", () => { measure = measureEl.value; poll.now(); });

  // A key keeps the colour it got when it first arrived: Tableau 10, then
  // hues a golden angle apart.
  const colours = new Map();
  function colour(key) {
    if (!colours.has(key)) {
      const i = colours.size;
      colours.set(key, i < tableau.length ? tableau[i] : `hsl(${Math.round((i * 137.508) % 360)} 55% 45%)`);
    }
    return colours.get(key);
  }

  // Keys the reader switched off in the legend; they stay off across polls.
  const hidden = new Set();

  // What was drawn, for people and for the browser test.
  const state = window.hourglassChart = {
    mode: "", windows: 0, keys: 0, rows: 0, fetchedRows: 0, bars: 0, points: 0,
    first: "", last: "", sum: 0, fit: 0, drawMs: 0, redrawMs: 0, redraws: 0, polls: 0,
    measure: "count", measures: ["count"], measureSum: 0,
    colours: {}, hidden: [], error: "",
  };

  let plot = null;
  let shape = ""; // mode and keys of the plot built: another shape builds anew
  let bars = 0;

  const plotWidth = () => Math.max(200, chartEl.clientWidth || 900);
  const plotHeight = 360;
  // Windows that fit: the plot area is the width less the y axis.
  const fit = () => Math.max(1, Math.floor((plotWidth() - 80) / pxPerWindow));

  async function getJSON(url) {
    const res = await fetch(url, {cache: "no-store"});
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  }

  // windows reads the newest rows until it holds n windows (or the table
  // ends), newest first, and keeps those n.
  async function windows(n, keys) {
    const limit = Math.min(100000, n * Math.max(1, keys));
    let page = await getJSON("api/windows?limit=" + limit);
    const first = page;
    let rows = page.rows;
    const starts = new Set(rows.map(r => r.window_start));
    for (let p = 1; page.next && starts.size < n && p < maxPages; p++) {
      page = await getJSON("api/windows?limit=" + limit + "&cursor=" + encodeURIComponent(page.next));
      rows = rows.concat(page.rows);
      page.rows.forEach(r => starts.add(r.window_start));
    }
    const fetched = rows.length;
    if (starts.size > n) {
      const keep = new Set([...starts].sort().slice(-n));
      rows = rows.filter(r => keep.has(r.window_start));
    }
    return {head: first, rows, fetched};
  }

  // aligned turns rows into uPlot's columns: window starts (epoch s) and a
  // column of the measure per key, null where the key has no row (or the
  // aggregate no value).
  function aligned(rows, keys) {
    const xs = [...new Set(rows.map(r => Date.parse(r.window_start) / 1000))].sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    const col = new Map(keys.map(k => [k, new Array(xs.length).fill(null)]));
    for (const r of rows) {
      const c = col.get(label(r));
      const v = r[measure];
      if (c) c[at.get(Date.parse(r.window_start) / 1000)] = typeof v === "number" ? v : null;
    }
    return [xs, ...keys.map(k => col.get(k))];
  }

  function options(mode, keys, step) {
    const n = keys.length;
    const series = keys.map((k, j) => {
      const s = {label: k, stroke: colour(k), show: !hidden.has(k), width: mode === "bars" ? 0 : 1.5};
      if (mode === "bars") {
        s.fill = colour(k);
        s.points = {show: false};
        // Bars side by side within their window: key j of n at 10% + 80%·j/n.
        s.paths = uPlot.paths.bars({
          disp: {
            x0: {unit: 1, values: u => u.data[0].map(x => x + step * (0.1 + 0.8 * j / n))},
            size: {unit: 1, values: () => [step * 0.8 / n]},
          },
          each: () => { bars++; },
        });
      } else {
        s.points = {show: false};
      }
      return s;
    });
    return {
      width: plotWidth(), height: plotHeight,
      tzDate: ts => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      cursor: {drag: {x: false, y: false}},
      legend: {live: false},
      scales: {
        x: {time: true, range: (u, lo, hi) => [lo, hi + step]},
        y: {range: (u, lo, hi) => [Math.min(0, lo * 1.05), Math.max(measure === "count" ? 1 : 0, hi) * 1.05 || 1]},
      },
      axes: [{label: "window start (UTC)"}, {label: measure, size: 70}],
      series: [{label: "window start"}, ...series],
      hooks: {
        drawClear: [() => { bars = 0; }],
        draw: [() => { state.bars = bars; }],
        setSeries: [(u, i, opts) => {
          if (i == null || opts.show == null) return;
          const k = u.series[i].label;
          if (opts.show) hidden.delete(k); else hidden.add(k);
          state.hidden = [...hidden].sort();
          state.points = points(u.data);
          mirror();
        }],
      },
    };
  }

  // points counts the values of the keys shown.
  function points(data) {
    let n = 0;
    for (let i = 1; i < data.length; i++) {
      if (plot && !plot.series[i].show) continue;
      for (const v of data[i]) if (v != null) n++;
    }
    return n;
  }

  function mirror() {
    for (const k of ["mode", "windows", "keys", "rows", "fetchedRows", "bars", "points", "first", "last", "sum", "fit", "redraws", "measure"]) {
      chartEl.dataset[k] = String(state[k]);
    }
  }

  function draw(got, keys) {
    const {head, rows, fetched} = got;
    const w = plotWidth();
    const measures = ["count", ...Object.keys(rows[0] || {}).filter(k => !fixed.has(k) && !(keyNames || []).includes(k))];
    if (measures.join() !== state.measures.join()) {
      measureEl.replaceChildren(...measures.map(m => new Option(m, m)));
      measureEl.parentElement.hidden = measures.length < 2;
    }
    if (!measures.includes(measure)) measure = "count";
    measureEl.value = measure;
    const data = aligned(rows, keys);
    const xs = data[0];
    const mode = xs.length <= 200 && xs.length * Math.max(1, keys.length) * 4 <= w ? "bars" : "lines";
    const step = rows.length ? (Date.parse(rows[0].window_end) - Date.parse(rows[0].window_start)) / 1000 : 3600;
    const want = mode + "\u0000" + measure + "\u0000" + step + "\u0000" + keys.join("\u0000");
    const t0 = performance.now();
    if (!plot || shape !== want) {
      if (plot) plot.destroy();
      chartEl.replaceChildren();
      plot = new uPlot(options(mode, keys, step), data, chartEl);
      shape = want;
      state.drawMs = performance.now() - t0;
    } else {
      plot.batch(u => u.setData(data));
      state.redrawMs = performance.now() - t0;
      state.redraws++;
    }
    Object.assign(state, {
      mode, windows: xs.length, keys: keys.length, rows: rows.length, fetchedRows: fetched,
      points: points(data), fit: fit(), sum: rows.reduce((s, r) => s + r.count, 0),
      measure, measures, measureSum: data.slice(1).flat().reduce((s, v) => s + (v || 0), 0),
      first: xs.length ? rows.reduce((m, r) => r.window_start < m ? r.window_start : m, rows[0].window_start) : "",
      last: xs.length ? rows.reduce((m, r) => r.window_start > m ? r.window_start : m, rows[0].window_start) : "",
      colours: Object.fromEntries(colours), hidden: [...hidden].sort(), error: "",
    });
    mirror();

    document.getElementById("group").textContent = head.group;
    statusEl.textContent = (head.recovered ? "current" : "recovering") +
      " · lag " + (head.lag < 0 ? "unknown" : head.lag) +
      " · " + xs.length + " newest windows of " + keys.length + " keys" +
      (head.watermark ? " · closed to " + head.watermark : "") +
      " · updated " + new Date().toLocaleTimeString();
    statusEl.className = head.recovered && head.lag === 0 ? "" : "stale";
  }

  // Totals are over the whole table, not only the windows drawn; the
  // measure's is its aggregate merged over the key's windows.
  function totals(rows) {
    const extra = measure !== "count" && rows.length && measure in rows[0];
    const head = document.querySelector("#totals thead tr");
    head.replaceChildren(...["key", "total", ...(extra ? [measure] : [])].map(h => {
      const th = document.createElement("th");
      th.textContent = h;
      return th;
    }));
    document.querySelector("#totals tbody").replaceChildren(...rows.map(r => {
      const tr = document.createElement("tr");
      const a = document.createElement("td");
      const sw = document.createElement("i");
      sw.style.background = colour(label(r));
      a.append(sw, document.createTextNode(label(r)));
      const b = document.createElement("td");
      b.textContent = r.total;
      tr.append(a, b);
      if (extra) {
        const m = document.createElement("td");
        m.textContent = r[measure] == null ? "" : r[measure];
        tr.append(m);
      }
      return tr;
    }));
  }

  // One poll at a time; a poll asked for during one follows it at once.
  let timer = 0, busy = false, again = false;
  async function poll() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    clearTimeout(timer);
    try {
      const t = await getJSON("api/totals");
      keyNames = t.keys || null;
      const keys = t.rows.map(label);
      keys.forEach(colour); // colours in order of arrival
      totals(t.rows);
      draw(await windows(fit(), keys.length), keys);
    } catch (e) {
      state.error = e.message;
      statusEl.textContent = "cannot read the table: " + e.message;
      statusEl.className = "stale";
    }
    busy = false;
    state.polls++;
    chartEl.dataset.polls = String(state.polls);
    timer = setTimeout(poll, again ? 0 : pollMs);
    again = false;
  }
  poll.now = poll;

  window.addEventListener("resize", () => {
    if (plot) plot.setSize({width: plotWidth(), height: plotHeight});
  });
  poll();
})();
