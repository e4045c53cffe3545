// Wire protocol of the web mirror (docs/web.md), the page's side: the lattice state a dashboard
// keeps between frames and their overlays. The WebSocket, the decoding and the keyframe/delta
// bookkeeping live in the socket worker (socket-worker.js), which posts each frame here.

/** Parse "row,col" (or "row col"); null for an empty string; throws on anything else. */
export function parseCell(text, what) {
  const s = text.trim();
  if (s === "") return null;
  const m = /^\(?\[?\s*(-?\d+)\s*[, ]\s*(-?\d+)\s*\]?\)?$/.exec(s);
  if (!m) throw new Error(`${what}: expected "row,col", got "${s}"`);
  return [Number(m[1]), Number(m[2])];
}

/** Positions kept per shard id: [x, y, time] (lattice coordinates: cell centre = x + .5). */
const TRAIL = 6;
/** How long a trail segment takes to fade out, in ms. */
export const TRAIL_MS = 1500;

/**
 * The mirrored state of the run: the hello message, the current lattice (bit-packed) and the
 * overlays of the newest frame, as the socket worker posts them (see MirrorState.apply).
 */
export class MirrorState {
  constructor() {
    this.hello = null;
    this.width = 0;
    this.height = 0;
    this.packed = null; // Uint8Array, ceil(w*h/8) bytes, MSB first
    this.cellsTick = -1;
    this.cellsSeq = -1;
    this.version = 0; // bumps whenever packed changes (the view re-unpacks it)
    this.seq = -1; // the newest frame's seq and sent_at (what a render shows)
    this.sentAt = null;
    this.bots = [];
    this.botIndex = new Map(); // "r,c" -> bot row
    this.shards = []; // [{id, x, y, transport, payload, row, col}]
    this.trails = new Map(); // shard id -> [[x, y], ...] oldest first
    this.gliders = [];
    this.patterns = [];
    this.energy = null; // {w, h, max, tick, pixels (Uint8Array | null)}
    this.stats = null;
    this.gaps = 0; // deltas ignored: their seq did not follow the lattice's (counted by the worker)
    this.decodeErrors = 0;
  }

  setHello(hello) {
    this.hello = hello;
    this.width = hello.width;
    this.height = hello.height;
    this.packed = new Uint8Array(Math.ceil((hello.width * hello.height) / 8));
    this.cellsTick = -1;
    this.cellsSeq = -1;
    this.trails.clear();
    this.version++;
  }

  /**
   * Apply one frame as the socket worker posted it (to the page or to the renderer: each gets
   * the fields it uses); true when the lattice changed.
   */
  apply(m) {
    let changed = false;
    if (m.lattice && this.packed && m.lattice.byteLength === this.packed.length) {
      this.packed = new Uint8Array(m.lattice);
      this.version++;
      changed = true;
    }
    this.cellsTick = m.cellsTick;
    this.cellsSeq = m.cellsSeq;
    this.seq = m.seq;
    this.sentAt = m.sentAt;
    if (m.gaps !== undefined) this.gaps = m.gaps;
    if (m.decodeErrors !== undefined) this.decodeErrors = m.decodeErrors;
    // Overlays follow the newest frame even when its delta was ignored.
    if (m.stats) this.stats = m.stats;
    if (m.bots) this.setBots(m.bots);
    if (m.shards) this.setShards(m.shards);
    if (m.gliders) this.gliders = m.gliders;
    if (m.patterns != null) this.patterns = m.patterns;
    if (m.energy) this.setEnergy(m.energy);
    return changed;
  }

  /** The newest energy field (pixels: an ArrayBuffer of w·h bytes, or null: not inflated). */
  setEnergy(e) {
    if (this.energy && e.tick < this.energy.tick) return;
    if (!e.pixels && this.energy && this.energy.pixels && this.energy.tick === e.tick) return;
    this.energy = {
      w: e.w, h: e.h, max: e.max, tick: e.tick, pixels: e.pixels ? new Uint8Array(e.pixels) : null,
    };
  }

  setBots(bots) {
    this.bots = bots;
    this.botIndex.clear();
    for (const b of bots) this.botIndex.set(`${b[0]},${b[1]}`, b);
  }

  /** Shard positions: glider riders at their glider, link shards in a ring around the tile. */
  setShards(rows) {
    const tile = this.hello ? this.hello.tile : 16;
    const byBot = new Map();
    const out = [];
    for (const [id, row, col, x, y, transport, payload] of rows) {
      const s = { id, row, col, x, y, transport, payload };
      if (transport === 1) {
        s.x = x + 0.5; // a glider's centroid is a mean of cell indices
        s.y = y + 0.5;
      } else {
        const k = row * 65536 + col;
        let group = byBot.get(k);
        if (!group) byBot.set(k, (group = []));
        group.push(s);
      }
      out.push(s);
    }
    for (const group of byBot.values()) {
      group.sort((a, b) => a.id - b.id);
      const n = group.length;
      const radius = n === 1 ? 0 : Math.min(tile * 0.36, tile * 0.12 + n * 0.25);
      group.forEach((s, i) => {
        const a = (2 * Math.PI * i) / n - Math.PI / 2;
        s.x += radius * Math.cos(a);
        s.y += radius * Math.sin(a);
      });
    }
    const seen = new Set();
    const t0 = performance.now();
    for (const s of out) {
      seen.add(s.id);
      let t = this.trails.get(s.id);
      if (!t) this.trails.set(s.id, (t = []));
      const last = t[t.length - 1];
      if (!last || last[0] !== s.x || last[1] !== s.y) {
        t.push([s.x, s.y, t0]);
        if (t.length > TRAIL) t.shift();
      }
    }
    for (const id of this.trails.keys()) if (!seen.has(id)) this.trails.delete(id);
    this.shards = out;
  }

  /** The decoded lattice as '0'/'1' characters, row-major. */
  cellsString() {
    const n = this.width * this.height;
    const p = this.packed;
    if (!p) return "";
    const chars = new Array(n);
    for (let i = 0; i < n; i++) chars[i] = (p[i >> 3] >> (7 - (i & 7))) & 1 ? "1" : "0";
    return chars.join("");
  }
}

/** The p-th percentile (0..100) of a numeric array (nearest rank); NaN when empty. */
export function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
