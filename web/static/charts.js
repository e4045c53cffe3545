// Three small live time-series charts (uPlot): delivery rate, population, tick time.
// Sampled at most twice a second from the newest stats; the last 300 points are kept.

/* global uPlot */

const MAX_POINTS = 300;
const MIN_INTERVAL_MS = 500;
const GROUPED = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

const AXIS = {
  stroke: "#8b949e",
  grid: { stroke: "rgba(139, 148, 158, 0.12)", width: 1 },
  ticks: { stroke: "rgba(139, 148, 158, 0.25)", width: 1, size: 4 },
  font: "10px ui-monospace, SFMono-Regular, Menlo, monospace",
};

const SERIES = [
  { key: "rate", title: "delivered / s", colour: "#3fb950", fmt: (v) => v.toFixed(1) },
  { key: "population", title: "population", colour: "#e6edf3", fmt: (v) => GROUPED.format(v) },
  { key: "tick_ms", title: "tick time (ms)", colour: "#d29922", fmt: (v) => v.toFixed(2) },
];

export class Charts {
  constructor(container) {
    this.container = container;
    this.t = [];
    this.values = SERIES.map(() => []);
    this.plots = [];
    this.readouts = [];
    this.lastSample = 0;
    this.prev = null; // {t, delivered} of the previous sample
    this.dirty = false;
    for (const spec of SERIES) {
      const box = document.createElement("div");
      box.className = "chart";
      const head = document.createElement("div");
      head.className = "chart-head";
      const title = document.createElement("span");
      title.textContent = spec.title;
      const value = document.createElement("span");
      value.className = "chart-value";
      value.style.color = spec.colour;
      value.textContent = "–";
      head.append(title, value);
      const plotEl = document.createElement("div");
      box.append(head, plotEl);
      container.append(box);
      this.readouts.push(value);
      const opts = {
        width: this.width(),
        height: 78,
        legend: { show: false },
        cursor: { show: false },
        select: { show: false },
        padding: [6, 6, 0, 0],
        scales: { x: { time: true }, y: { range: (u, lo, hi) => yRange(lo, hi) } },
        axes: [
          { ...AXIS, size: 20, space: 60, values: (u, ticks) => ticks.map(clock) },
          { ...AXIS, size: 44, space: 24, values: (u, ticks) => ticks.map(short) },
        ],
        series: [
          {},
          { stroke: spec.colour, width: 1.25, fill: spec.colour + "1a", points: { show: false } },
        ],
      };
      this.plots.push(new uPlot(opts, [[], []], plotEl));
    }
  }

  width() {
    return Math.max(120, Math.floor(this.container.clientWidth || 280));
  }

  resize() {
    const w = this.width();
    for (const p of this.plots) p.setSize({ width: w, height: 78 });
  }

  /** Restart the delivery-rate difference after a reconnect (a new server may reset counts). */
  resetRate() {
    this.prev = null;
  }

  /** Offer the newest stats; a point is added when MIN_INTERVAL_MS passed since the last. */
  sample(stats, nowMs) {
    if (!stats || nowMs - this.lastSample < MIN_INTERVAL_MS) return false;
    this.lastSample = nowMs;
    let rate = 0;
    const delivered = Number(stats.delivered) || 0;
    if (this.prev && delivered >= this.prev.delivered && nowMs > this.prev.t) {
      rate = ((delivered - this.prev.delivered) * 1000) / (nowMs - this.prev.t);
    }
    this.prev = { t: nowMs, delivered };
    this.t.push(nowMs / 1000);
    this.values[0].push(rate);
    this.values[1].push(Number(stats.population) || 0);
    this.values[2].push(Number(stats.tick_ms) || 0);
    if (this.t.length > MAX_POINTS) {
      this.t.shift();
      for (const v of this.values) v.shift();
    }
    this.dirty = true;
    return true;
  }

  /** Push new samples to the plots (called from the render loop). */
  flush() {
    if (!this.dirty) return;
    this.dirty = false;
    SERIES.forEach((spec, i) => {
      this.plots[i].setData([this.t, this.values[i]]);
      const v = this.values[i];
      this.readouts[i].textContent = v.length ? spec.fmt(v[v.length - 1]) : "–";
    });
  }
}

function yRange(lo, hi) {
  if (lo == null || hi == null) return [0, 1];
  const min = Math.min(0, lo);
  const max = hi <= min ? min + 1 : hi * 1.1;
  return [min, max];
}

function clock(t) {
  const d = new Date(t * 1000);
  return `${String(d.getMinutes()).padStart(2, "0")}:${String(d.getSeconds()).padStart(2, "0")}`;
}

function short(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
  if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
  if (a >= 10 || a === 0) return v.toFixed(0);
  return v.toFixed(a >= 1 ? 1 : 2);
}
