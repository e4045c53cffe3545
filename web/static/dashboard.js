// Dashboard wiring: the workers, frame bookkeeping, the side panel, the controls, the keyboard,
// and the window.cybermesh hooks the browser tests read.
//
// Three threads: the socket worker (socket-worker.js) owns the WebSocket, takes each message's
// receive time as it arrives and decodes it; the render worker (render-worker.js) draws the
// lattice on the canvas, transferred to it as an OffscreenCanvas, from frames the socket worker
// sends it directly; this page keeps the hooks, the panel, the feed, the charts and the input.
// Where a canvas cannot be transferred the same renderer (draw.js) runs here instead.

import { MirrorState, parseCell, percentile } from "./protocol.js";
import { Renderer } from "./draw.js";
import { LatticeView } from "./view.js";
import { Charts } from "./charts.js";
import { Feed } from "./feed.js";

const HISTORY = 20000; // latencies and sizes kept
const EVENTS_KEPT = 2000;
const REPLIES_KEPT = 1000;
const REPLY_TIMEOUT_MS = 15000;
const RATE_MIN = 0.25;
const RATE_MAX = 100000;
const TOKEN_KEY = "cybermesh.token";

const $ = (id) => document.getElementById(id);
const now = () => performance.timeOrigin + performance.now();

const canvas = $("lattice");
const state = new MirrorState();
const socket = new Worker("/static/socket-worker.js", { name: "cybermesh-socket" });
const frames = new MessageChannel(); // socket worker → renderer
const postToRenderer = startRenderer();
const view = new LatticeView(canvas, state, postToRenderer);
const charts = new Charts($("charts"));
const feed = new Feed($("feed"), $("feed-count"));

/** The renderer: in a worker with the canvas where it can be transferred, else on this page. */
function startRenderer() {
  if (typeof canvas.transferControlToOffscreen === "function") {
    let offscreen = null;
    try {
      offscreen = canvas.transferControlToOffscreen();
    } catch (err) {
      console.warn("cybermesh: cannot transfer the canvas; drawing on the page", err);
    }
    if (offscreen) {
      const w = new Worker("/static/render-worker.js", { type: "module", name: "cybermesh-render" });
      w.onmessage = (ev) => onDrawn(ev.data);
      w.onerror = (ev) => console.error("cybermesh: render worker", ev.message);
      w.postMessage({ type: "init", canvas: offscreen, port: frames.port2 },
        [offscreen, frames.port2]);
      return (m) => w.postMessage(m);
    }
  }
  const renderer = new Renderer(canvas, onDrawn);
  frames.port2.onmessage = (ev) => renderer.onSocket(ev.data);
  return (m) => renderer.command(m);
}

// ---- hooks -------------------------------------------------------------------------------

const recvTimes = []; // receive times of the frames of the last second
let prevTick = null; // previous frame's tick on this connection

const cm = {
  connected: false,
  hello: null,
  frames: 0,
  keyframes: 0,
  firstSeq: null, // first seq of the current connection
  lastSeq: null,
  skipped: 0, // frames the server skipped for this client (a keyframe after a jump in seq)
  lastTick: -1,
  tickBackwards: 0,
  connections: 0,
  closeCode: null,
  latencies: [], // ms: the socket worker's receive time − sent_at, per frame
  drawLatencies: [], // ms: when the canvas draw of a frame finished − its sent_at, per drawn frame
  sizes: [],
  events: [],
  replies: [],
  get gaps() {
    return state.gaps;
  },
  get drawnTick() {
    return view.drawnTick;
  },
  get cellsTick() {
    return state.cellsTick;
  },
  get stats() {
    return state.stats;
  },
  fps() {
    trimRecv(now());
    return recvTimes.length;
  },
  cells() {
    return state.cellsString();
  },
  view: () => view.view(),
  setView: (scale, ox, oy) => view.setView(scale, ox, oy),
  fit: () => view.fit(),
  layers(obj) {
    const before = view.layers.energy;
    const out = view.setLayers(obj || {});
    syncLayerBoxes();
    if (out.energy !== before) socket.postMessage({ type: "energy", on: out.energy });
    return out;
  },
  send,
  raw,
  _state: state, // for debugging from the console
  _view: view,
};
window.cybermesh = cm;

function trimRecv(t) {
  while (recvTimes.length && recvTimes[0] <= t - 1000) recvTimes.shift();
}

function pushCapped(arr, value, cap) {
  arr.push(value);
  if (arr.length > cap) arr.shift();
}

// ---- connection (the socket worker) -----------------------------------------------------

let retryAt = 0; // when the next reconnect attempt starts (0: none scheduled)
let attempts = 0;
let nextId = 1;
const pending = new Map(); // id -> {resolve, timer}
const rawWaiters = [];

function wsUrl() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/ws`;
}

function setConn(text, cls) {
  const el = $("conn");
  el.textContent = text;
  el.dataset.state = cls;
}

socket.onerror = (ev) => console.error("cybermesh: socket worker", ev.message);
socket.onmessage = (ev) => {
  const m = ev.data;
  switch (m.type) {
    case "frames":
      onFrames(m);
      break;
    case "hello":
      onHello(m.hello, m.resized);
      break;
    case "reply":
      onReply(m.msg);
      break;
    case "open":
      onOpen();
      break;
    case "close":
      onClose(m);
      break;
    case "connecting":
      retryAt = 0;
      attempts = m.attempts;
      if (attempts === 1) setConn("connecting", "connecting");
      schedulePanel();
      break;
    case "unsent":
      onUnsent(m);
      break;
    default:
      break;
  }
};

function onOpen() {
  cm.connected = true;
  cm.connections++;
  cm.firstSeq = null;
  cm.lastSeq = null;
  prevTick = null;
  charts.resetRate();
  setConn("connected", "connected");
  updatePanel();
}

function onClose({ code, opened, retryIn }) {
  cm.connected = false;
  retryAt = performance.now() + retryIn;
  // A failed reconnect attempt keeps the state the last connection ended in.
  if (opened) {
    cm.closeCode = code;
    if (code === 1001) setConn("server shut down", "shutdown");
    else setConn("disconnected", "disconnected");
  } else if (!cm.connections) {
    setConn("disconnected", "disconnected");
  }
  for (const [id, p] of pending) {
    clearTimeout(p.timer);
    p.resolve({ type: "error", id, error: `connection closed (${code})`, local: true });
  }
  pending.clear();
  while (rawWaiters.length) rawWaiters.shift()(null);
  updatePanel();
}

function onUnsent({ id, raw: isRaw }) {
  if (isRaw) {
    if (rawWaiters.length) rawWaiters.shift()(null);
    return;
  }
  const p = pending.get(id);
  if (!p) return;
  pending.delete(id);
  clearTimeout(p.timer);
  p.resolve({ type: "error", id, error: "not connected", local: true });
}

function onHello(hello, resized) {
  if (hello.version !== 1) console.warn("cybermesh: protocol version", hello.version, "(want 1)");
  cm.hello = hello;
  if (resized || !state.hello) {
    state.setHello(hello);
    view.fitted = false;
    view.resize();
  } else {
    state.hello = hello;
  }
  showHello(hello);
}

/** A batch of frames from the socket worker (see flushPage there), oldest first. */
function onFrames(m) {
  let recv = 0;
  for (const f of m.frames) {
    recv = f.recv;
    cm.frames++;
    if (f.key) cm.keyframes++;
    pushCapped(cm.sizes, f.size, HISTORY);
    if (f.latency !== null) pushCapped(cm.latencies, f.latency, HISTORY);
    recvTimes.push(recv);
    if (cm.firstSeq === null) cm.firstSeq = f.seq;
    if (cm.lastSeq !== null && f.seq !== cm.lastSeq + 1 && f.key) {
      cm.skipped += Math.max(0, f.seq - cm.lastSeq - 1);
    }
    cm.lastSeq = f.seq;
    if (prevTick !== null && f.tick < prevTick) cm.tickBackwards++;
    prevTick = f.tick;
    cm.lastTick = f.tick;
    const events = f.events;
    for (const e of events) pushCapped(cm.events, e, EVENTS_KEPT);
    if (events.length || f.omitted) feed.push(events, f.omitted, f.tick);
  }
  trimRecv(now());
  const last = m.frames[m.frames.length - 1];
  m.seq = last.seq;
  m.sentAt = null;
  state.apply(m);
  showDrawn();
  charts.sample(state.stats, recv);
  schedulePanel();
}

function onReply(msg) {
  pushCapped(cm.replies, msg, REPLIES_KEPT);
  showReply(msg);
  const p = msg.id != null ? pending.get(msg.id) : undefined;
  if (p) {
    pending.delete(msg.id);
    clearTimeout(p.timer);
    p.resolve(msg);
  } else if (rawWaiters.length) {
    rawWaiters.shift()(msg);
  }
}

/** Send a control message; resolves with its reply (a local error when it cannot be sent). */
function send(obj) {
  const msg = { ...(obj || {}) };
  if (!("token" in msg)) msg.token = $("token").value;
  const id = nextId++;
  msg.id = id;
  if (!cm.connected) {
    return Promise.resolve({ type: "error", id, error: "not connected", local: true });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      resolve({ type: "error", id, error: "no reply (timeout)", local: true });
    }, REPLY_TIMEOUT_MS);
    pending.set(id, { resolve, timer });
    socket.postMessage({ type: "send", id, text: JSON.stringify(msg) });
  });
}

/** Send a raw text message; resolves with the next reply no send() waits for (null on close). */
function raw(str) {
  if (!cm.connected) return Promise.resolve(null);
  return new Promise((resolve) => {
    rawWaiters.push(resolve);
    socket.postMessage({ type: "raw", text: str });
  });
}

// ---- panel -------------------------------------------------------------------------------

const fmtInt = new Intl.NumberFormat("en-US");
const shown = new Map();

function setText(id, text) {
  if (shown.get(id) === text) return;
  shown.set(id, text);
  const el = $(id);
  if (el) el.textContent = text;
}

function fmtRate(v) {
  if (v == null || !Number.isFinite(v)) return "–";
  return v >= 100 ? fmtInt.format(Math.round(v)) : v.toFixed(v >= 10 ? 1 : 2);
}

function fmtMs(v) {
  return Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : "–";
}

/** "p50 / p95 ms" of the newest 100 values. */
function p50p95(values) {
  const last = values.slice(-100);
  return last.length ? `${fmtMs(percentile(last, 50))} / ${fmtMs(percentile(last, 95))} ms` : "–";
}

function showHello(h) {
  setText("meta-rule", h.rule);
  setText("meta-size", `${h.width}×${h.height}`);
  setText("meta-mesh", `${h.rows}×${h.cols} · tile ${h.tile}`);
  setText("meta-seed", `seed ${h.seed}`);
  const sel = $("wave-adapter");
  const current = sel.value;
  const names = Array.isArray(h.adapters) ? h.adapters : [];
  sel.textContent = "";
  for (const name of names) sel.append(new Option(name, name, false, name === current));
  sel.disabled = names.length === 0;
  if (!names.length) sel.append(new Option("no adapters", ""));
  $("wave").disabled = names.length === 0;
  const legend = $("legend");
  legend.textContent = "";
  for (const [name, c] of Object.entries(h.states || {})) {
    const item = document.createElement("span");
    item.className = "legend-item";
    const sw = document.createElement("i");
    sw.style.borderColor = `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
    item.append(sw, name);
    legend.append(item);
  }
}

function updatePanel() {
  const t = now();
  trimRecv(t);
  const s = state.stats;
  setText("tick", cm.lastTick >= 0 ? String(cm.lastTick) : "–");
  setText("fps", String(recvTimes.length));
  setText("latency", p50p95(cm.latencies));
  setText("draw-latency", p50p95(cm.drawLatencies));
  const sz = cm.sizes.slice(-100);
  setText("frame-size", sz.length
    ? `${(sz.reduce((a, b) => a + b, 0) / sz.length / 1024).toFixed(1)} KiB` : "–");
  if (s) {
    setText("rate", `${fmtRate(s.tick_rate)} /s`);
    setText("tps", fmtRate(s.tps));
    setText("paused", s.paused ? "paused" : "running");
    $("paused").dataset.paused = s.paused ? "1" : "0";
    setText("population", fmtInt.format(s.population ?? 0));
    setText("inflight", fmtInt.format(s.in_flight ?? 0));
    setText("spawned", fmtInt.format(s.spawned ?? 0));
    setText("delivered", fmtInt.format(s.delivered ?? 0));
    setText("expired", fmtInt.format(s.expired ?? 0));
    setText("dropped", fmtInt.format(s.dropped ?? 0));
    setText("tick-ms", `${fmtMs(s.tick_ms)} ms`);
    setText("clients", String(s.clients ?? "–"));
    setText("dropped-ticks", fmtInt.format(s.dropped_ticks ?? 0));
  }
  setText("gaps", `${state.gaps} / ${cm.skipped}`);
  let detail = "";
  if (!cm.connected && retryAt) {
    const left = Math.max(0, (retryAt - performance.now()) / 1000);
    detail = `retry in ${left.toFixed(1)} s`;
  } else if (!cm.connected && attempts > 1) {
    detail = "reconnecting…";
  } else if (cm.connected) {
    detail = `${fmtInt.format(cm.frames)} frames · ${fmtInt.format(cm.keyframes)} key`;
  }
  setText("conn-detail", detail);
}

function showReply(msg) {
  const el = $("reply");
  if (msg.type === "ack") {
    el.className = "reply ok";
    const tick = msg.tick != null ? ` · tick ${fmtInt.format(msg.tick)}` : "";
    el.textContent = `✓ ${msg.op ?? "ok"}${tick}`;
  } else {
    el.className = "reply err";
    el.textContent = `✗ ${msg.error ?? "error"}`;
  }
}

function hint(text) {
  const el = $("reply");
  el.className = "reply hint";
  el.textContent = text;
}

let drawnTick = -1; // the tick the renderer reported drawn last

/** The renderer drew: {tick: of the lattice drawn last, latencies: draw finished − sent_at}. */
function onDrawn(d) {
  if (d.type !== "drawn") return;
  for (const v of d.latencies) pushCapped(cm.drawLatencies, v, HISTORY);
  drawnTick = d.tick;
  showDrawn();
}

/**
 * The drawnTick hook follows the renderer, but never ahead of the lattice this page holds
 * (frames reach the page in batches): once drawnTick reads T, cells() returns tick T or later.
 */
function showDrawn() {
  if (drawnTick <= state.cellsTick || drawnTick < view.drawnTick) view.drawnTick = drawnTick;
}

view.onChange = () => {
  const s = view.scale;
  setText("zoom", `${s >= 1 ? s.toFixed(s % 1 ? 1 : 0) : s.toFixed(2)} px/cell`);
  updateHover();
};

// Every change on the page costs a whole frame of style, layout, paint and compositing, and
// eight dashboards may share two CPUs: the text, the feed and the charts refresh at most
// PANEL_HZ times a second, all in one animation frame. (The canvas costs this thread nothing:
// it is drawn in the render worker.)
const PANEL_HZ = 2;
const PANEL_MS = 1000 / PANEL_HZ;
let panelTimer = 0;
let panelAt = -Infinity;

const CHARTS_MS = 1000; // the charts (three canvases) redraw at most once a second
let chartsAt = -Infinity;

function refreshPanel() {
  panelAt = performance.now();
  feed.flush();
  if (panelAt - chartsAt >= CHARTS_MS - PANEL_MS / 2) {
    chartsAt = panelAt;
    charts.flush();
  }
  updatePanel();
  updateHover();
}

/** Something the panel shows changed: refresh it on an animation frame, PANEL_HZ at most. */
function schedulePanel() {
  if (panelTimer) return;
  const wait = Math.max(0, panelAt + PANEL_MS - performance.now());
  panelTimer = setTimeout(() => {
    requestAnimationFrame(() => {
      panelTimer = 0;
      refreshPanel();
    });
  }, wait);
}

setInterval(schedulePanel, 1000);

// ---- controls ----------------------------------------------------------------------------

const tokenInput = $("token");
try {
  tokenInput.value = sessionStorage.getItem(TOKEN_KEY) || "";
} catch {
  /* storage may be unavailable */
}
tokenInput.addEventListener("input", () => {
  try {
    sessionStorage.setItem(TOKEN_KEY, tokenInput.value);
  } catch {
    /* ignore */
  }
  tokenInput.classList.remove("need");
});

/** Run a control from the UI: needs the token; shows the reply. */
async function control(build) {
  if (!tokenInput.value) {
    tokenInput.classList.add("need");
    tokenInput.focus();
    hint("enter the control token first (the server prints it at start)");
    return null;
  }
  let msg;
  try {
    msg = build();
  } catch (err) {
    showReply({ type: "error", error: err.message });
    return null;
  }
  if (!msg) return null;
  const reply = await send(msg);
  if (reply.local) showReply(reply);
  return reply;
}

function currentRate() {
  const r = state.stats && Number(state.stats.tick_rate);
  return Number.isFinite(r) && r > 0 ? r : 30;
}

function changeRate(factor) {
  return control(() => ({
    op: "rate",
    value: Math.min(RATE_MAX, Math.max(RATE_MIN, currentRate() * factor)),
  }));
}

function stepCount() {
  const n = Math.round(Number($("step-n").value) || 1);
  return Math.min(1000, Math.max(1, n));
}

function togglePause() {
  const paused = state.stats && state.stats.paused;
  return control(() => ({ op: paused ? "resume" : "pause" }));
}

const actions = {
  pause: () => control(() => ({ op: "pause" })),
  resume: () => control(() => ({ op: "resume" })),
  step: () => control(() => ({ op: "step", n: stepCount() })),
  faster: () => changeRate(2),
  slower: () => changeRate(0.5),
  reseed: () => control(() => {
    const text = $("reseed-seed").value.trim();
    if (text && !/^-?\d+$/.test(text)) throw new Error(`seed: expected an integer, got "${text}"`);
    return { op: "reseed", seed: text ? Number(text) : null };
  }),
  inject: () => control(() => {
    const text = $("inject-text").value.trim();
    if (!text) throw new Error("inject: the shard needs a text");
    const src = parseCell($("inject-src").value, "source");
    if (!src) throw new Error('inject: the source bot is needed ("row,col")');
    return { op: "inject", text, src, target: parseCell($("inject-target").value, "target") };
  }),
  pulse: () => control(() => ({ op: "pulse", bot: parseCell($("pulse-bot").value, "pulse bot") })),
  wave: () => control(() => {
    const bot = parseCell($("wave-bot").value, "wave bot");
    if (!bot) throw new Error('wave: the bot is needed ("row,col")');
    const adapter = $("wave-adapter").value;
    if (!adapter) throw new Error("wave: no adapter to send");
    return { op: "wave", bot, adapter };
  }),
};

for (const [id, fn] of Object.entries(actions)) {
  $(id).addEventListener("click", (ev) => {
    ev.preventDefault();
    fn();
  });
}
for (const form of document.querySelectorAll("form")) {
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const action = form.dataset.action;
    if (action && actions[action]) actions[action]();
  });
}

// ---- layers ------------------------------------------------------------------------------

function syncLayerBoxes() {
  for (const [k, v] of Object.entries(view.layers)) {
    const box = $(`layer-${k}`);
    if (box) box.checked = v;
  }
}

for (const k of Object.keys(view.layers)) {
  const box = $(`layer-${k}`);
  if (box) box.addEventListener("change", () => cm.layers({ [k]: box.checked }));
}
syncLayerBoxes();
$("fit").addEventListener("click", () => view.fit());

// ---- keyboard ----------------------------------------------------------------------------

function typing(el) {
  if (!el) return false;
  const tag = el.tagName;
  return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || el.isContentEditable;
}

document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(document.activeElement)) return;
  const k = ev.key;
  let handled = true;
  if (k === " " || ev.code === "Space") togglePause();
  else if (k === "n" || k === "N") actions.step();
  else if (k === "+" || k === "=" || ev.code === "NumpadAdd") actions.faster();
  else if (k === "-" || k === "_" || k === "−" || ev.code === "NumpadSubtract") actions.slower();
  else if (k === "e" || k === "E") cm.layers({ energy: !view.layers.energy });
  else if (k === "f" || k === "F") view.fit();
  else handled = false;
  if (handled) ev.preventDefault();
});
document.addEventListener("keyup", (ev) => {
  const space = ev.key === " " || ev.code === "Space";
  if (space && !typing(document.activeElement)) ev.preventDefault();
});

// ---- canvas interaction ------------------------------------------------------------------

let drag = null;
let hover = null; // CSS pixel of the pointer over the canvas

function local(ev) {
  const r = canvas.getBoundingClientRect();
  return [ev.clientX - r.left, ev.clientY - r.top];
}

canvas.addEventListener("wheel", (ev) => {
  ev.preventDefault();
  const [mx, my] = local(ev);
  const dy = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaMode === 2 ? ev.deltaY * 400 : ev.deltaY;
  view.zoomAt(mx, my, Math.exp(-dy * 0.0015));
}, { passive: false });

canvas.addEventListener("pointerdown", (ev) => {
  if (ev.button !== 0) return;
  const [mx, my] = local(ev);
  drag = { x: mx, y: my, moved: false, id: ev.pointerId };
  canvas.setPointerCapture(ev.pointerId);
});

canvas.addEventListener("pointermove", (ev) => {
  const [mx, my] = local(ev);
  hover = [mx, my];
  if (drag && drag.id === ev.pointerId) {
    const dx = mx - drag.x;
    const dy = my - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 3) return;
    drag.moved = true;
    canvas.classList.add("panning");
    drag.x = mx;
    drag.y = my;
    view.panBy(dx, dy);
  } else {
    updateHover();
  }
});

function endDrag(ev) {
  if (!drag || drag.id !== ev.pointerId) return;
  const wasClick = !drag.moved;
  drag = null;
  canvas.classList.remove("panning");
  if (wasClick && ev.type === "pointerup" && ev.shiftKey) pickBot(ev);
}
canvas.addEventListener("pointerup", endDrag);
canvas.addEventListener("pointercancel", endDrag);
canvas.addEventListener("pointerleave", () => {
  hover = null;
  updateHover();
});
canvas.addEventListener("dblclick", (ev) => {
  ev.preventDefault();
  view.fit();
});

function botAt(mx, my) {
  const c = view.cellAt(mx, my);
  const h = state.hello;
  if (!c || !h || !h.tile) return null;
  return [Math.floor(c[1] / h.tile), Math.floor(c[0] / h.tile)];
}

/** Shift-click: the bot fields; Shift+Alt-click (or Shift+Ctrl): the inject target. */
function pickBot(ev) {
  const [mx, my] = local(ev);
  const b = botAt(mx, my);
  if (!b) return;
  const text = `${b[0]},${b[1]}`;
  if (ev.altKey || ev.ctrlKey) {
    $("inject-target").value = text;
  } else {
    for (const id of ["inject-src", "pulse-bot", "wave-bot"]) $(id).value = text;
  }
  hint(`bot ${text} selected`);
}

function updateHover() {
  if (!hover) {
    setText("hover", "");
    return;
  }
  const c = view.cellAt(hover[0], hover[1]);
  if (!c) {
    setText("hover", "");
    return;
  }
  const [x, y] = c;
  const i = y * state.width + x;
  const alive = state.packed && (state.packed[i >> 3] >> (7 - (i & 7))) & 1;
  let text = `x ${x}  y ${y}  ${alive ? "alive" : "dead"}`;
  const b = botAt(hover[0], hover[1]);
  if (b) {
    const bot = state.botIndex.get(`${b[0]},${b[1]}`);
    text += `  ·  bot ${b[0]},${b[1]}`;
    if (bot) text += ` ${bot[2]} · inbox ${bot[3]}${bot[4] ? ` · ${bot[4]}` : ""}`;
  }
  setText("hover", text);
}

// ---- feed filter, layout -----------------------------------------------------------------

$("feed-filter").addEventListener("change", (ev) => feed.setFilter(ev.target.value, cm.events));

new ResizeObserver(() => view.resize()).observe(canvas);
new ResizeObserver(() => charts.resize()).observe($("charts"));
window.addEventListener("resize", () => view.resize());

// ?fps=N: the most lattice renders a second (default DEFAULT_MAX_FPS, draw.js; frames arrive at
// up to serve.fps).
const fpsParam = Number(new URLSearchParams(location.search).get("fps"));
if (fpsParam > 0) view.maxFps = Math.min(240, fpsParam);

view.padding = [$("toolbar").offsetHeight + 16, 8, 32, 8];
view.resize();
socket.postMessage({ type: "start", url: wsUrl(), port: frames.port1 }, [frames.port1]);
