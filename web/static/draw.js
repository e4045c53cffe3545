// Canvas drawing of the lattice and its overlays: cells, mesh grid, bot tiles, energy heatmap,
// pattern and glider boxes, shards with trails. The view maps cell (x, y)'s top-left corner to
// CSS pixel (ox + x*scale, oy + y*scale) of the canvas element.
//
// The Renderer runs where the canvas is: in the render worker on an OffscreenCanvas (a draw
// there costs the page's main thread nothing: no style, layout, paint or commit), or on the
// page when the browser cannot transfer a canvas. Either way it is fed the same messages: the
// socket worker's frames (onSocket) and the page's view commands (command, see view.js).

import { MirrorState, TRAIL_MS } from "./protocol.js";

export const LIVE = "#e6edf3";
export const DEAD = "#0d1117";
const OUTSIDE = "#010409";
const LIVE32 = 0xfff3ede6; // #e6edf3, opaque, as a little-endian RGBA pixel

const PAYLOAD_COLOURS = ["#39d3f2", "#ff7ad9"]; // memory, adapter
const GLIDER_COLOUR = "#f2cc60";
const PATTERN_COLOUR = "rgba(88, 166, 255, 0.55)";
const GRID_COLOUR = "rgba(139, 148, 158, 0.35)";
const CELL_GRID_COLOUR = "rgba(139, 148, 158, 0.10)";

/**
 * 256-entry heat ramp (transparent → deep red → orange → pale yellow) as RGBA pixels, indexed
 * by the energy byte through a square root: most of a field sits far below its maximum.
 */
function heatRamp() {
  const lut = new Uint32Array(256);
  const stops = [
    [0, 0, 0, 0, 0],
    [0.08, 70, 20, 70, 0.12],
    [0.3, 150, 30, 70, 0.3],
    [0.55, 220, 60, 40, 0.42],
    [0.75, 255, 150, 40, 0.55],
    [1, 255, 240, 170, 0.7],
  ];
  for (let i = 0; i < 256; i++) {
    const v = Math.sqrt(i / 255);
    let k = 1;
    while (k < stops.length - 1 && stops[k][0] < v) k++;
    const [v0, r0, g0, b0, a0] = stops[k - 1];
    const [v1, r1, g1, b1, a1] = stops[k];
    const t = (v - v0) / (v1 - v0);
    const mix = (a, b) => Math.round(a + (b - a) * t);
    const alpha = Math.round((a0 + (a1 - a0) * t) * 255);
    lut[i] = ((alpha << 24) | (mix(b0, b1) << 16) | (mix(g0, g1) << 8) | mix(r0, r1)) >>> 0;
  }
  return lut;
}

const HEAT = heatRamp();

const FALLBACK_COLOUR = "#8b949e";

function rgb(c) {
  return c ? `rgb(${c[0]}, ${c[1]}, ${c[2]})` : FALLBACK_COLOUR;
}

const now = () => performance.timeOrigin + performance.now();
const REPORT_MS = 200;

/**
 * Renders a second for new frames, unless the page sets another (?fps=N). Frames arrive at up
 * to serve.fps (30); on a few shared CPUs each render costs a compositor frame, so not all of
 * them are drawn (view changes always are, at once).
 */
export const DEFAULT_MAX_FPS = 12;

/** A canvas of its own for an intermediate image (an OffscreenCanvas where there is one). */
function scratchCanvas() {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(1, 1);
  return document.createElement("canvas");
}

const nextFrame = (typeof requestAnimationFrame === "function" && !globalThis.NO_RAF)
  ? (fn) => requestAnimationFrame(fn)
  : (fn) => setTimeout(fn, 16);

export class Renderer {
  /**
   * @param canvas an OffscreenCanvas or a <canvas>
   * @param onDrawn ({type: "drawn", tick, latencies}) => void, at most every REPORT_MS after
   *   renders: the tick of the lattice drawn last, and for each frame drawn since the last
   *   report, when its draw finished − its sent_at (ms)
   */
  constructor(canvas, onDrawn) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.state = new MirrorState();
    this.onDrawn = onDrawn;
    this.scale = 1;
    this.ox = 0;
    this.oy = 0;
    this.dpr = 1;
    this.layers = {
      grid: true, bots: true, shards: true, patterns: true, gliders: true, energy: false,
    };
    this.cells = scratchCanvas();
    this.cellsCtx = this.cells.getContext("2d");
    this.cellsImage = null;
    this.cellsPixels = null; // Uint32Array over cellsImage
    this.cellsVersion = -1;
    this.heat = scratchCanvas();
    this.heatCtx = this.heat.getContext("2d");
    this.heatImage = null;
    this.heatTick = -1;
    this.grid = null; // {key, fine: Path2D | null, tiles: Path2D | null}: the cached mesh grid
    this.visible = [0, 0, 0, 0]; // visible cell range of the current render: x0, y0, x1, y1
    this.drawnTick = -1;
    this.pending = false;
    this.timer = 0;
    this.credit = 0; // ms of render budget (see waitForBudget)
    this.creditAt = performance.now();
    this.maxFps = DEFAULT_MAX_FPS;
    this.frameRequest = () => this.requestFrame();
    this.frameCallback = () => this.onFrame();
    this.drawLatencies = []; // ms, per frame drawn since the last report: draw finished − sent_at
    this.reportedSeq = -1;
    this.reportedAt = -Infinity;
    this.reportTimer = 0;
    this.reportCallback = () => {
      this.reportTimer = 0;
      this.reportDrawn();
    };
  }

  /** A message from the socket worker: hello, frame or energy. */
  onSocket(m) {
    const st = this.state;
    switch (m.type) {
      case "hello":
        if (m.resized || !st.hello) st.setHello(m.hello);
        else st.hello = m.hello;
        this.invalidate();
        break;
      case "frame":
        st.apply(m);
        this.invalidate(false);
        break;
      case "energy":
        st.setEnergy(m.energy);
        if (this.layers.energy) this.invalidate();
        break;
      default:
        break;
    }
  }

  /** A command from the page (view.js): size, view, layers, fps, render. */
  command(m) {
    switch (m.type) {
      case "size":
        if (this.canvas.width !== m.width || this.canvas.height !== m.height) {
          this.canvas.width = m.width;
          this.canvas.height = m.height;
        }
        this.dpr = m.dpr;
        break;
      case "view":
        this.scale = m.scale;
        this.ox = m.ox;
        this.oy = m.oy;
        break;
      case "layers":
        Object.assign(this.layers, m.layers);
        break;
      case "fps":
        this.maxFps = m.maxFps;
        break;
      default:
        break;
    }
    this.invalidate();
  }

  /**
   * Ask for one render on an animation frame (coalesced). New data renders at most `maxFps`
   * times a second on average (many dashboards may share a few CPUs); a view change (`now`) at
   * once.
   */
  invalidate(now = true) {
    if (this.pending && !(now && this.timer)) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = 0;
    }
    this.pending = true;
    const wait = now ? 0 : this.waitForBudget(performance.now());
    if (wait > 1) {
      this.timer = setTimeout(this.frameRequest, wait);
    } else {
      this.frameRequest();
    }
  }

  /**
   * Milliseconds until a data render fits the budget (0: now). The budget grows with time and
   * each render spends one interval; it may neither run ahead nor fall behind by more than one
   * interval. So the average stays at most `maxFps`, yet a frame that arrives on time after a
   * late one is drawn at once rather than a whole interval after the one before.
   */
  waitForBudget(t) {
    const interval = 1000 / this.maxFps;
    this.credit = Math.min(interval, this.credit + (t - this.creditAt));
    this.creditAt = t;
    return Math.max(0, -this.credit);
  }

  requestFrame() {
    this.timer = 0;
    nextFrame(this.frameCallback);
  }

  onFrame() {
    this.pending = false;
    const interval = 1000 / this.maxFps;
    this.waitForBudget(performance.now());
    this.credit = Math.max(-interval, this.credit - interval);
    this.render();
    const st = this.state;
    if (st.seq !== this.reportedSeq && st.sentAt !== null) {
      this.reportedSeq = st.seq;
      this.drawLatencies.push(now() - st.sentAt);
    }
    this.reportDrawn();
  }

  /** Tell the page what was drawn: at most every REPORT_MS (each message costs it a task). */
  reportDrawn() {
    const wait = this.reportedAt + REPORT_MS - performance.now();
    if (wait > 0) {
      if (!this.reportTimer) this.reportTimer = setTimeout(this.reportCallback, wait);
      return;
    }
    if (this.reportTimer) {
      clearTimeout(this.reportTimer);
      this.reportTimer = 0;
    }
    this.reportedAt = performance.now();
    const latencies = this.drawLatencies;
    this.drawLatencies = [];
    if (this.onDrawn) this.onDrawn({ type: "drawn", tick: this.drawnTick, latencies });
  }

  // --- rendering -------------------------------------------------------------------------

  /** Unpack the lattice into the cells image (only when it changed since the last render). */
  updateCells() {
    const st = this.state;
    const { width: w, height: h, packed } = st;
    if (this.cells.width !== w || this.cells.height !== h || !this.cellsImage) {
      this.cells.width = w;
      this.cells.height = h;
      this.cellsImage = this.cellsCtx.createImageData(w, h);
      this.cellsPixels = new Uint32Array(this.cellsImage.data.buffer);
      this.cellsVersion = -1;
    }
    if (this.cellsVersion === st.version) return;
    const px = this.cellsPixels;
    const n = w * h;
    const bytes = packed.length;
    for (let b = 0; b < bytes; b++) {
      const v = packed[b];
      const base = b << 3;
      const end = Math.min(8, n - base);
      if (v === 0) {
        px.fill(0, base, base + end);
        continue;
      }
      for (let j = 0; j < end; j++) px[base + j] = (v >> (7 - j)) & 1 ? LIVE32 : 0;
    }
    this.cellsCtx.putImageData(this.cellsImage, 0, 0);
    this.cellsVersion = st.version;
  }

  /** The heat image of the newest energy field; false when there is none inflated. */
  updateHeat() {
    const e = this.state.energy;
    if (!e || !e.pixels) return false;
    if (this.heatTick === e.tick) return true;
    if (this.heat.width !== e.w || this.heat.height !== e.h || !this.heatImage) {
      this.heat.width = e.w;
      this.heat.height = e.h;
      this.heatImage = this.heatCtx.createImageData(e.w, e.h);
    }
    const px = new Uint32Array(this.heatImage.data.buffer);
    const src = e.pixels;
    for (let i = 0; i < src.length; i++) px[i] = HEAT[src[i]];
    this.heatCtx.putImageData(this.heatImage, 0, 0);
    this.heatTick = e.tick;
    return true;
  }

  render() {
    const ctx = this.ctx;
    const st = this.state;
    const cw = this.canvas.width;
    const ch = this.canvas.height;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = OUTSIDE;
    ctx.fillRect(0, 0, cw, ch);
    if (!st.packed || !st.width) return;

    const d = this.dpr;
    const s = this.scale * d; // device pixels per cell
    const ox = this.ox * d;
    const oy = this.oy * d;
    const W = st.width;
    const H = st.height;
    const L = this.layers;

    ctx.fillStyle = DEAD;
    ctx.fillRect(ox, oy, W * s, H * s);

    ctx.save();
    ctx.beginPath();
    ctx.rect(ox, oy, W * s, H * s);
    ctx.clip();

    if (L.energy && this.updateHeat()) {
      const e = st.energy;
      const f = Math.ceil(Math.max(W, H) / 64);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.heat, 0, 0, e.w, e.h, ox, oy, e.w * f * s, e.h * f * s);
      ctx.imageSmoothingEnabled = false;
    }

    this.updateCells();
    ctx.drawImage(this.cells, 0, 0, W, H, ox, oy, W * s, H * s);
    this.drawnTick = st.cellsTick;

    const hello = st.hello;
    const tile = hello ? hello.tile : 0;
    // visible cell range (for culling labels and the fine grid)
    const v = this.visible;
    v[0] = Math.max(0, Math.floor(-ox / s));
    v[1] = Math.max(0, Math.floor(-oy / s));
    v[2] = Math.min(W, Math.ceil((cw - ox) / s));
    v[3] = Math.min(H, Math.ceil((ch - oy) / s));

    if (L.grid) this.drawGrid(ctx, s, ox, oy, W, H, tile);
    if (L.bots && tile) this.drawBots(ctx, s, ox, oy, tile, d);
    if (L.patterns) this.drawPatterns(ctx, s, ox, oy, W, H, d);
    if (L.gliders) this.drawGliders(ctx, s, ox, oy, d);
    if (L.shards) this.drawShards(ctx, s, ox, oy, W, H, d);
    ctx.restore();
  }

  /** The mesh grid (and the cell grid when zoomed in): paths built once per view. */
  drawGrid(ctx, s, ox, oy, W, H, tile) {
    const [vx0, vy0, vx1, vy1] = this.visible;
    const key = `${s},${ox},${oy},${W},${H},${tile},${vx0},${vy0},${vx1},${vy1}`;
    let g = this.grid;
    if (!g || g.key !== key) {
      g = this.grid = { key, fine: null, tiles: null };
      if (s >= 10) {
        const p = new Path2D();
        for (let x = vx0; x <= vx1; x++) {
          const px = Math.round(ox + x * s) + 0.5;
          p.moveTo(px, oy);
          p.lineTo(px, oy + H * s);
        }
        for (let y = vy0; y <= vy1; y++) {
          const py = Math.round(oy + y * s) + 0.5;
          p.moveTo(ox, py);
          p.lineTo(ox + W * s, py);
        }
        g.fine = p;
      }
      if (tile) {
        const p = new Path2D();
        for (let x = 0; x <= W; x += tile) {
          const px = Math.round(ox + x * s) + 0.5;
          p.moveTo(px, oy);
          p.lineTo(px, oy + H * s);
        }
        for (let y = 0; y <= H; y += tile) {
          const py = Math.round(oy + y * s) + 0.5;
          p.moveTo(ox, py);
          p.lineTo(ox + W * s, py);
        }
        g.tiles = p;
      }
    }
    ctx.lineWidth = 1;
    if (g.fine) {
      ctx.strokeStyle = CELL_GRID_COLOUR;
      ctx.stroke(g.fine);
    }
    if (g.tiles) {
      ctx.strokeStyle = GRID_COLOUR;
      ctx.stroke(g.tiles);
    }
  }

  drawBots(ctx, s, ox, oy, tile, d) {
    const colours = this.botColours();
    const ts = tile * s;
    const lw = Math.max(1, Math.min(3, Math.round(ts / 40))) * d;
    const inset = lw / 2 + d;
    const side = Math.round(ts) - 2 * inset;
    ctx.lineWidth = lw;
    const label = ts >= 70 * d;
    if (label) {
      ctx.font = `${10 * d}px ui-monospace, SFMono-Regular, Menlo, monospace`;
      ctx.textBaseline = "top";
    }
    for (const bot of this.state.bots) {
      const row = bot[0];
      const col = bot[1];
      const state = bot[2];
      const x = Math.round(ox + col * ts);
      const y = Math.round(oy + row * ts);
      const colour = colours.get(state) || FALLBACK_COLOUR;
      ctx.strokeStyle = colour;
      ctx.globalAlpha = state === "idle" ? 0.55 : 0.95;
      ctx.strokeRect(x + inset, y + inset, side, side);
      if (state === "down") {
        ctx.globalAlpha = 0.1;
        ctx.fillStyle = colour;
        ctx.fillRect(x + inset, y + inset, side, side);
      }
      if (label) {
        const inbox = bot[3];
        const adapter = bot[4];
        ctx.globalAlpha = 0.9;
        ctx.fillStyle = colour;
        let text = `${row},${col}`;
        if (inbox) text += ` [${inbox}]`;
        if (adapter && ts >= 150 * d) text += ` ${adapter}`;
        ctx.fillText(text, x + inset + 3 * d, y + inset + 2 * d);
      }
    }
    ctx.globalAlpha = 1;
  }

  /** CSS colours of the bot states (from the hello), built once per hello. */
  botColours() {
    const hello = this.state.hello;
    if (this.colourHello !== hello) {
      this.colourHello = hello;
      this.colours = new Map();
      const states = (hello && hello.states) || {};
      for (const [name, c] of Object.entries(states)) this.colours.set(name, rgb(c));
    }
    return this.colours;
  }

  drawPatterns(ctx, s, ox, oy, W, H, d) {
    const pats = this.state.patterns;
    if (!pats.length) return;
    const [vx0, vy0, vx1, vy1] = this.visible;
    const label = s >= 7 * d;
    ctx.lineWidth = d;
    ctx.strokeStyle = PATTERN_COLOUR;
    ctx.beginPath();
    let labels = 0;
    for (const pat of pats) {
      const x = pat[0];
      const y = pat[1];
      const w = pat[2];
      const h = pat[3];
      // a box that wraps the torus is drawn once more on the other side
      const nx = x + w > W ? 2 : 1;
      const ny = y + h > H ? 2 : 1;
      for (let i = 0; i < nx; i++) {
        for (let j = 0; j < ny; j++) {
          const bx = x - i * W;
          const by = y - j * H;
          if (bx + w < vx0 || by + h < vy0 || bx > vx1 || by > vy1) continue;
          ctx.rect(Math.round(ox + bx * s) + 0.5, Math.round(oy + by * s) + 0.5,
            Math.round(w * s), Math.round(h * s));
          if (label && pat[4] && i === 0 && j === 0) labels++;
        }
      }
    }
    ctx.stroke();
    if (!labels) return;
    ctx.font = `${9 * d}px ui-monospace, SFMono-Regular, Menlo, monospace`;
    ctx.textBaseline = "bottom";
    ctx.fillStyle = "rgba(121, 192, 255, 0.85)";
    for (const pat of pats) {
      const x = pat[0];
      const y = pat[1];
      if (!pat[4] || x + pat[2] < vx0 || y + pat[3] < vy0 || x > vx1 || y > vy1) continue;
      ctx.fillText(pat[4], ox + x * s, oy + y * s - d);
    }
  }

  drawGliders(ctx, s, ox, oy, d) {
    const gl = this.state.gliders;
    if (!gl.length) return;
    const label = s >= 5 * d;
    ctx.lineWidth = Math.max(1, Math.round(1.5 * d));
    ctx.strokeStyle = GLIDER_COLOUR;
    ctx.beginPath();
    for (const g of gl) {
      // a glider's centroid is a mean of cell indices: its box spans ±1.5 cells around cx + .5
      ctx.rect(ox + (g[1] - 1.5) * s, oy + (g[2] - 1.5) * s, 4 * s, 4 * s);
    }
    ctx.stroke();
    if (label) {
      ctx.font = `bold ${10 * d}px ui-monospace, SFMono-Regular, Menlo, monospace`;
      ctx.textBaseline = "bottom";
      ctx.fillStyle = GLIDER_COLOUR;
      for (const [track, cx, cy, dir] of gl) {
        ctx.fillText(`#${track} ${dir}`, ox + (cx - 1.5) * s, oy + (cy - 1.5) * s - 2 * d);
      }
    }
  }

  drawShards(ctx, s, ox, oy, W, H, d) {
    const st = this.state;
    if (!st.shards.length) return;
    const r = Math.max(2 * d, Math.min(6 * d, s * 0.45));
    // trails: segments fading with age and rank, broken where the shard wrapped the torus
    const t0 = performance.now();
    ctx.lineCap = "round";
    ctx.lineWidth = Math.max(1, r * 0.6);
    for (const sh of st.shards) {
      const t = st.trails.get(sh.id);
      if (!t || t.length < 2) continue;
      ctx.strokeStyle = PAYLOAD_COLOURS[sh.payload] || PAYLOAD_COLOURS[0];
      for (let i = 1; i < t.length; i++) {
        const a = t[i - 1];
        const b = t[i];
        const fade = 1 - (t0 - b[2]) / TRAIL_MS;
        if (fade <= 0) continue;
        if (Math.abs(b[0] - a[0]) > W / 2 || Math.abs(b[1] - a[1]) > H / 2) continue;
        ctx.globalAlpha = 0.6 * fade * (i / (t.length - 1));
        ctx.beginPath();
        ctx.moveTo(ox + a[0] * s, oy + a[1] * s);
        ctx.lineTo(ox + b[0] * s, oy + b[1] * s);
        ctx.stroke();
      }
    }
    ctx.globalAlpha = 1;
    ctx.lineWidth = d;
    ctx.strokeStyle = DEAD;
    for (let p = 0; p < 2; p++) {
      ctx.fillStyle = PAYLOAD_COLOURS[p];
      ctx.beginPath();
      for (const sh of st.shards) {
        if ((sh.payload === 1 ? 1 : 0) !== p) continue;
        const x = ox + sh.x * s;
        const y = oy + sh.y * s;
        const radius = sh.transport === 1 ? r * 1.25 : r;
        ctx.moveTo(x + radius, y);
        ctx.arc(x, y, radius, 0, 2 * Math.PI);
      }
      ctx.fill();
      ctx.stroke();
    }
  }
}
