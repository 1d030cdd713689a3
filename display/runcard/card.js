// The live run card's view, for anywidget: the state badge, the elapsed
// time with the environment's preparation, the last lines of output and a
// sparkline of the run's first metric. The kernel sends the state as the
// run changes; the elapsed time ticks here between updates.

function duration(ms) {
  if (ms < 1000) return Math.max(0, Math.round(ms)) + "ms";
  const s = ms / 1000;
  if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m " + Math.round(s - m * 60) + "s";
  return Math.floor(m / 60) + "h " + (m % 60) + "m";
}

function value(v) {
  if (v === null || v === undefined) return "NaN";
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function sparkline(points) {
  const vals = points.filter((v) => v !== null && isFinite(v));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "gantry-card-spark");
  svg.setAttribute("viewBox", "0 0 120 28");
  svg.setAttribute("preserveAspectRatio", "none");
  if (vals.length < 2) return svg;
  const lo = Math.min(...vals), hi = Math.max(...vals);
  const span = hi - lo || 1;
  const step = 120 / (vals.length - 1);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", vals.map((v, i) => (i * step).toFixed(1) + "," + (26 - ((v - lo) / span) * 24).toFixed(1)).join(" "));
  svg.appendChild(line);
  return svg;
}

function render({ model, el: root }) {
  const card = el("div", "gantry-card");
  root.appendChild(card);
  const head = el("div", "gantry-card-head");
  const badge = el("span", "gantry-card-badge");
  const title = el("span", "gantry-card-title");
  const time = el("span", "gantry-card-time");
  head.append(badge, title, time);
  const note = el("div", "gantry-card-note");
  const metrics = el("div", "gantry-card-metrics");
  const lines = el("pre", "gantry-card-lines");
  card.append(head, note, metrics, lines);
  let received = Date.now();

  function tick() {
    const ms = model.get("elapsed_ms") || 0;
    const live = model.get("begun") && !model.get("final");
    const total = live ? ms + (Date.now() - received) : ms;
    const prep = model.get("started") || model.get("final") ? model.get("preparing_ms") || 0 : total;
    if (!model.get("begun")) {
      time.textContent = model.get("final") ? "" : "waiting";
    } else {
      time.textContent = duration(total) + (prep > 0 ? " (preparation " + duration(prep) + ")" : "");
    }
  }

  function draw() {
    const state = model.get("state") || "";
    card.dataset.state = state;
    badge.textContent = state;
    badge.className = "gantry-card-badge gantry-card-" + state;
    const id = model.get("run_id") || "";
    card.dataset.run = id;
    title.textContent = "Run " + id.slice(0, 8) + " · " + model.get("experiment") + " on " + model.get("target");
    title.title = id;
    const bits = [];
    const code = model.get("exit_code");
    if (model.get("final") && code !== null && code !== undefined) bits.push("exit code " + code);
    if (model.get("reason")) bits.push(model.get("reason"));
    if (model.get("note") && !model.get("final")) bits.push(model.get("note"));
    note.textContent = bits.join(" · ");
    note.hidden = bits.length === 0;
    metrics.replaceChildren();
    const last = model.get("last") || {};
    const names = Object.keys(last).sort();
    if (names.length) {
      const m = model.get("metric");
      if (m) metrics.append(el("span", "gantry-card-metric-name", m), sparkline(model.get("points") || []));
      metrics.append(el("span", "gantry-card-values", names.slice(0, 4).map((n) => n + " " + value(last[n])).join(" · ")));
    }
    metrics.hidden = names.length === 0;
    const ls = model.get("lines") || [];
    lines.textContent = ls.join("\n");
    lines.hidden = ls.length === 0;
    tick();
  }

  const onChange = () => {
    received = Date.now();
    draw();
  };
  for (const k of ["state", "elapsed_ms", "lines", "points", "last", "note", "reason", "exit_code", "final"]) {
    model.on("change:" + k, onChange);
  }
  draw();
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

export default { render };
