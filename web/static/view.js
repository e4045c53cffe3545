// The lattice view on the page's side: where the lattice sits on the canvas (zoom, pan, fit),
// which layers show, the canvas size; every change goes to the renderer (draw.js), which runs
// in a worker on an OffscreenCanvas (render-worker.js) where the browser has one. The view
// maps cell (x, y)'s top-left corner to CSS pixel (ox + x*scale, oy + y*scale) of the canvas.

import { DEFAULT_MAX_FPS } from "./draw.js";

export const MIN_SCALE = 0.05;
export const MAX_SCALE = 96;

export class LatticeView {
  /**
   * @param canvas the <canvas> element (its size and position are read here)
   * @param state the page's MirrorState (lattice size)
   * @param post (msg) => void: a command to the renderer
   */
  constructor(canvas, state, post) {
    this.canvas = canvas;
    this.state = state;
    this.post = post;
    this.scale = 1;
    this.ox = 0;
    this.oy = 0;
    this.layers = {
      grid: true, bots: true, shards: true, patterns: true, gliders: true, energy: false,
    };
    this.cssW = 0;
    this.cssH = 0;
    this.dpr = 1;
    this.fitted = false;
    this.padding = [8, 8, 8, 8]; // CSS px kept free around a fitted lattice: top right bottom left
    this.drawnTick = -1; // the tick of the lattice the renderer last drew (it reports it)
    this.fps = DEFAULT_MAX_FPS;
    this.onChange = null; // called after a zoom or pan
  }

  /** The most renders a second for new frames (view changes render at once). */
  get maxFps() {
    return this.fps;
  }

  set maxFps(value) {
    this.fps = Math.min(240, Math.max(0.01, Number(value) || DEFAULT_MAX_FPS));
    this.post({ type: "fps", maxFps: this.fps });
  }

  /** Render now (after a change the renderer cannot see, e.g. a new hello). */
  invalidate() {
    this.post({ type: "render" });
  }

  /** Match the backing store to the element's CSS size × devicePixelRatio. */
  resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = globalThis.devicePixelRatio || 1;
    this.cssW = r.width;
    this.cssH = r.height;
    this.dpr = dpr;
    this.post({
      type: "size",
      width: Math.max(1, Math.round(r.width * dpr)),
      height: Math.max(1, Math.round(r.height * dpr)),
      dpr,
    });
    if (!this.fitted && this.state.width) this.fit();
  }

  setView(scale, ox, oy) {
    this.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, Number(scale)));
    this.ox = Number(ox);
    this.oy = Number(oy);
    this.post({ type: "view", scale: this.scale, ox: this.ox, oy: this.oy });
    if (this.onChange) this.onChange();
    return this.view();
  }

  view() {
    return { scale: this.scale, ox: this.ox, oy: this.oy };
  }

  /** Fit the whole lattice, centred; an integer scale when cells are a pixel or larger. */
  fit() {
    const { width, height } = this.state;
    if (!width || !height || !this.cssW || !this.cssH) return this.view();
    const [top, right, bottom, left] = this.padding;
    const aw = Math.max(1, this.cssW - left - right);
    const ah = Math.max(1, this.cssH - top - bottom);
    let s = Math.min(aw / width, ah / height);
    if (s >= 1) s = Math.floor(s);
    s = Math.max(MIN_SCALE, s);
    this.fitted = true;
    return this.setView(s, Math.round(left + (aw - width * s) / 2),
      Math.round(top + (ah - height * s) / 2));
  }

  /** Zoom by `factor` keeping the lattice point under CSS pixel (mx, my) in place. */
  zoomAt(mx, my, factor) {
    const s = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    const k = s / this.scale;
    this.setView(s, mx - (mx - this.ox) * k, my - (my - this.oy) * k);
  }

  panBy(dx, dy) {
    this.setView(this.scale, this.ox + dx, this.oy + dy);
  }

  /** The lattice cell under CSS pixel (mx, my), or null outside the lattice. */
  cellAt(mx, my) {
    const x = Math.floor((mx - this.ox) / this.scale);
    const y = Math.floor((my - this.oy) / this.scale);
    if (x < 0 || y < 0 || x >= this.state.width || y >= this.state.height) return null;
    return [x, y];
  }

  setLayers(obj) {
    for (const k of Object.keys(this.layers)) {
      if (obj && k in obj) this.layers[k] = Boolean(obj[k]);
    }
    this.post({ type: "layers", layers: { ...this.layers } });
    return { ...this.layers };
  }
}
