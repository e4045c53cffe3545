// The live event feed: newest on top, at most MAX_ROWS rows, coloured by kind, filterable.

const MAX_ROWS = 200;

const cell = (c) => (Array.isArray(c) ? `${c[0]},${c[1]}` : c == null ? "semantic" : String(c));
const num = (v) => (typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : String(v));
const quote = (s) => {
  const t = String(s ?? "");
  return `“${t.length > 48 ? t.slice(0, 47) + "…" : t}”`;
};

/** One line of key fields per event kind; unknown kinds list their fields. */
const SUMMARY = {
  spawn: (e) => `#${e.shard} ${cell(e.src)} → ${cell(e.target)} ${e.payload} ${quote(e.text)}`,
  hop: (e) => `#${e.shard} ${cell(e.from)} → ${cell(e.to)}`,
  retry: (e) => `#${e.shard} ${cell(e.from)} → ${cell(e.to)} attempt ${e.attempt}`,
  delivered: (e) => `#${e.shard} at ${cell(e.at)} · ${e.hops} hops · ${e.latency} ticks`,
  expired: (e) => `#${e.shard} at ${cell(e.at)} · ${e.hops} hops`,
  dropped: (e) => `#${e.shard} at ${cell(e.at)} · ${e.reason}`,
  board: (e) => `#${e.shard} at ${cell(e.at)} · glider ${e.track} ${e.direction}`,
  handoff: (e) => `#${e.shard} ${cell(e.from)} → ${cell(e.to)} · glider ${e.track}`,
  alight: (e) => `#${e.shard} at ${cell(e.at)} · glider ${e.track} · ${e.reason}`,
  track_born: (e) =>
    `glider ${e.track} ${e.direction} at ${num(e.x)},${num(e.y)} in ${cell(e.cell)}`,
  track_crossed: (e) => `glider ${e.track} ${cell(e.src)} → ${cell(e.dst)}`,
  track_lost: (e) => `glider ${e.track} at ${num(e.x)},${num(e.y)} · ${e.reason}`,
  pulse: (e) => `bot ${cell(e.bot)} · ${e.adapter} · ${e.cells} cells`,
  wave_start: (e) => `wave ${e.wave} at ${cell(e.bot)} · ${e.adapter} · ${e.digest}`,
  adopt: (e) =>
    `wave ${e.wave} ${e.src ? cell(e.src) + " → " : ""}${cell(e.bot)} · ${e.adapter}` +
    (e.loaded ? " · loaded" : ""),
  select: (e) => `bot ${cell(e.bot)} · ${e.adapter ?? "no adapter"}`,
  reseed: (e) => `seed ${e.seed} · density ${e.density} · population ${e.population}`,
  stamp: (e) => `${e.pattern} at ${e.x},${e.y} · ${e.cells} cells`,
  population: (e) => `population ${e.population}`,
  start: (e) => `seed ${e.seed} ${e.rule} ${e.width}×${e.height} · population ${e.population}`,
  stop: (e) => `population ${e.population}`,
};

function generic(e) {
  return Object.entries(e)
    .filter(([k]) => k !== "kind" && k !== "tick")
    .map(([k, v]) => {
      const text = Array.isArray(v) ? cell(v) : typeof v === "object" ? JSON.stringify(v) : v;
      return `${k}=${text}`;
    })
    .join(" ");
}

export function summary(e) {
  const f = SUMMARY[e.kind];
  try {
    return f ? f(e) : generic(e);
  } catch {
    return generic(e);
  }
}

/** Feed filters: which kinds each shows. */
export const FILTERS = {
  all: null,
  quiet: (k) => k !== "hop" && k !== "retry" && k !== "population",
  shards: (k) =>
    ["spawn", "delivered", "expired", "dropped", "board", "handoff", "alight"].includes(k),
  ends: (k) => k === "delivered" || k === "expired" || k === "dropped",
  gliders: (k) => k.startsWith("track_") || k === "board" || k === "handoff" || k === "alight",
  lora: (k) => k === "pulse" || k === "wave_start" || k === "adopt" || k === "select",
  run: (k) => ["start", "stop", "reseed", "stamp", "population"].includes(k),
};

export class Feed {
  constructor(list, counter) {
    this.list = list;
    this.counter = counter;
    this.pending = [];
    this.filter = null;
    this.total = 0;
  }

  setFilter(name, all) {
    this.filter = FILTERS[name] || null;
    this.list.textContent = "";
    this.pending = all.slice(-4 * MAX_ROWS);
    this.flush();
  }

  /** Queue events (and an "omitted" marker) to be shown at the next flush. */
  push(events, omitted, tick) {
    if (omitted > 0) this.pending.push({ kind: "omitted", tick, count: omitted, marker: true });
    for (const e of events) this.pending.push(e);
    this.total += events.length;
  }

  flush() {
    if (!this.pending.length) return;
    const items = this.pending;
    this.pending = [];
    const frag = document.createDocumentFragment();
    let shown = 0;
    for (let i = items.length - 1; i >= 0 && shown < MAX_ROWS; i--) {
      const e = items[i];
      if (this.filter && !e.marker && !this.filter(String(e.kind))) continue;
      frag.append(this.row(e));
      shown++;
    }
    this.list.prepend(frag);
    while (this.list.childElementCount > MAX_ROWS) this.list.lastElementChild.remove();
    if (this.counter) this.counter.textContent = `${this.total} events`;
  }

  row(e) {
    const li = document.createElement("li");
    li.className = `ev k-${String(e.kind).replace(/[^a-z_]/g, "")}`;
    const t = document.createElement("span");
    t.className = "ev-tick";
    t.textContent = e.tick ?? "";
    const k = document.createElement("span");
    k.className = "ev-kind";
    const s = document.createElement("span");
    s.className = "ev-text";
    if (e.marker) {
      k.textContent = "…";
      s.textContent = `${e.count} older events of this span omitted`;
    } else {
      k.textContent = e.kind;
      s.textContent = summary(e);
      s.title = JSON.stringify(e);
    }
    li.append(t, k, s);
    return li;
  }
}
