// The dashboard's WebSocket, off the page's main thread (a classic dedicated worker).
//
// The main thread of a dashboard is busy with its page, and a message it receives waits for
// that to finish; here nothing else runs, so a frame's receive time is taken as soon as it
// arrives. The worker owns the connection (reconnecting with backoff), decodes every message
// (msgpack, then zlib, strictly in order) and applies keyframes and deltas to its copy of the
// bit-packed lattice. Each frame goes at once to the renderer (over a MessagePort, the lattice
// as a transferred buffer when it changed), and in batches to the page (its hooks, panel, feed).
//
// Page → worker: {type: "start", url, port} · {type: "send", id, text} (a control message,
// JSON) · {type: "raw", text} · {type: "energy", on} (inflate each frame's energy field or not).
// Worker → page, in the order the socket delivered them: "connecting", "open", "hello",
// "frames", "reply", "close"; and "unsent" when a message could not go out.
// Worker → renderer: "hello", "frame", "energy".

/* global MessagePack */
"use strict";

importScripts("/static/vendor/msgpack/msgpack.min.js");

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;

const decoder = new MessagePack.Decoder();
const now = () => performance.timeOrigin + performance.now();

let url = "";
let ws = null;
let backoff = BACKOFF_MIN_MS;
let attempts = 0;
let chain = Promise.resolve(); // messages are handled, and posted, strictly in order

// The mirrored lattice (docs/web.md): bit-packed, MSB first.
let packed = null;
let valid = false; // a keyframe has been applied since the last hello / gap / reconnect
let cellsSeq = -1;
let cellsTick = -1;
let gaps = 0; // deltas ignored: their seq did not follow the lattice's
let decodeErrors = 0;
let energy = null; // the newest frame's {w, h, max, data (zlib), tick}
let wantEnergy = false;
let renderPort = null; // MessagePort to the renderer (the render worker, or the page)

// Frames for the page are batched: its panel refreshes twice a second, and every message costs
// its main thread a task; the renderer gets each frame at once.
const PAGE_BATCH_MS = 200;
let pageFrames = []; // [{seq, tick, key, recv, latency, size, events, omitted}]
let pageStats = null;
let pageBots = [];
let pageLatticeDirty = false;
let pageFlushedAt = -Infinity;
let pageTimer = 0;

function later(fn) {
  chain = chain.then(fn).catch((err) => console.warn("cybermesh worker:", err));
}

/**
 * Inflate a zlib stream (RFC 1950) with DecompressionStream, written straight into the
 * stream's writer (going through a Blob is some 20 times slower for frame-sized inputs).
 */
async function inflate(bytes) {
  const ds = new DecompressionStream("deflate");
  const writer = ds.writable.getWriter();
  const ignore = () => {}; // a corrupt stream rejects these too; the readable reports it
  writer.write(bytes).catch(ignore);
  writer.close().catch(ignore);
  return new Uint8Array(await new Response(ds.readable).arrayBuffer());
}

// ---- connection --------------------------------------------------------------------------

function connect() {
  attempts++;
  toPage({ type: "connecting", attempts });
  let sock;
  try {
    sock = new WebSocket(url);
  } catch (err) {
    console.warn("cybermesh: cannot open the WebSocket", err);
    const delay = nextDelay();
    later(() => toPage({ type: "close", code: 0, opened: false, retryIn: delay }));
    setTimeout(connect, delay);
    return;
  }
  sock.binaryType = "arraybuffer";
  ws = sock;
  let opened = false;
  sock.onmessage = (ev) => {
    const recv = now(); // first: before anything else, decoding included
    if (ws !== sock) return;
    onMessage(ev.data, recv);
  };
  sock.onopen = () => {
    if (ws !== sock) return;
    opened = true;
    backoff = BACKOFF_MIN_MS;
    later(() => {
      valid = false; // deltas wait for this connection's first keyframe
      cellsSeq = -1;
      toPage({ type: "open" });
    });
  };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    ws = null;
    const delay = nextDelay();
    const code = ev.code;
    later(() => toPage({ type: "close", code, opened, retryIn: delay }));
    setTimeout(connect, delay);
  };
  sock.onerror = () => {}; // a close event follows
}

function nextDelay() {
  const delay = backoff;
  backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
  return delay;
}

function onMessage(data, recv) {
  let msg;
  let size;
  try {
    if (typeof data === "string") {
      size = data.length;
      msg = JSON.parse(data);
    } else {
      size = data.byteLength;
      msg = decoder.decode(new Uint8Array(data));
    }
  } catch (err) {
    console.warn("cybermesh: undecodable message", err);
    return;
  }
  if (!msg || typeof msg !== "object") return;
  switch (msg.type) {
    case "frame":
      later(() => onFrame(msg, recv, size));
      break;
    case "hello":
      later(() => onHello(msg));
      break;
    case "ack":
    case "error":
      later(() => toPage({ type: "reply", msg }));
      break;
    default:
      console.warn("cybermesh: unknown message type", msg.type);
  }
}

// ---- frames ------------------------------------------------------------------------------

function onHello(hello) {
  const bytes = Math.ceil((hello.width * hello.height) / 8);
  const resized = !packed || packed.length !== bytes;
  if (resized) {
    packed = new Uint8Array(bytes);
    cellsTick = -1;
  }
  valid = false;
  cellsSeq = -1;
  toPage({ type: "hello", hello, resized });
  if (renderPort) renderPort.postMessage({ type: "hello", hello, resized });
}

async function onFrame(f, recv, size) {
  const sentAt = typeof f.sent_at === "number" ? f.sent_at : null;
  const bots = f.bots || [];
  const changed = packed ? await applyLattice(f) : false;
  let energyOut = null;
  let energyPixels = null;
  if (f.energy) {
    const e = f.energy;
    energy = { w: e.w, h: e.h, max: e.max, data: e.data, tick: f.tick };
    energyOut = { w: e.w, h: e.h, max: e.max, tick: f.tick, pixels: null };
    if (wantEnergy) {
      energyPixels = await inflateEnergy(energy);
      if (energyPixels) energyOut.pixels = energyPixels.buffer;
    }
  }
  // To the renderer, at once: what it draws.
  if (renderPort) {
    const draw = {
      type: "frame",
      seq: f.seq,
      tick: f.tick,
      sentAt,
      lattice: changed ? packed.slice().buffer : null, // the whole packed lattice, when changed
      cellsTick,
      cellsSeq,
      bots,
      shards: f.shards || [],
      gliders: f.gliders || [],
      patterns: f.patterns == null ? null : f.patterns,
      energy: energyOut,
    };
    const transfer = [];
    if (draw.lattice) transfer.push(draw.lattice);
    if (energyPixels) transfer.push(energyPixels.buffer);
    renderPort.postMessage(draw, transfer);
  }
  // To the page, batched: what its hooks, panel and feed need.
  if (changed) pageLatticeDirty = true;
  pageFrames.push({
    seq: f.seq,
    tick: f.tick,
    key: f.key === true,
    recv,
    latency: sentAt === null ? null : recv - sentAt,
    size,
    events: Array.isArray(f.events) ? f.events : [],
    omitted: f.events_omitted || 0,
  });
  pageStats = f.stats || pageStats;
  pageBots = bots;
  const wait = pageFlushedAt + PAGE_BATCH_MS - performance.now();
  if (wait <= 0) flushPage();
  else if (!pageTimer) pageTimer = setTimeout(flushPage, wait);
}

/**
 * Post the frames queued for the page: one message for all of them, with the newest lattice
 * (when it changed), stats and bots. Every other message to the page flushes them first, so
 * the page sees everything in the socket's order.
 */
function flushPage() {
  if (pageTimer) {
    clearTimeout(pageTimer);
    pageTimer = 0;
  }
  if (!pageFrames.length) return;
  pageFlushedAt = performance.now();
  const lattice = pageLatticeDirty && packed ? packed.slice().buffer : null;
  pageLatticeDirty = false;
  const msg = {
    type: "frames",
    frames: pageFrames,
    lattice, // the whole packed lattice, when it changed since the last batch
    cellsTick,
    cellsSeq,
    gaps,
    decodeErrors,
    stats: pageStats,
    bots: pageBots,
  };
  pageFrames = [];
  self.postMessage(msg, lattice ? [lattice] : []);
}

/** A message to the page, after the frames queued before it. */
function toPage(msg) {
  flushPage();
  self.postMessage(msg);
}

/** Apply a frame's lattice (keyframe or delta); true when the cells changed. */
async function applyLattice(f) {
  const key = f.key === true;
  if (!key && (!valid || f.seq !== cellsSeq + 1)) {
    gaps++; // a delta that does not follow the lattice: wait for the next keyframe
    valid = false;
    return false;
  }
  let inflated = null;
  try {
    inflated = await inflate(f.lattice);
  } catch (err) {
    console.warn("cybermesh: cannot inflate lattice of seq", f.seq, err);
  }
  if (!inflated || inflated.length !== packed.length) {
    decodeErrors++;
    if (inflated) {
      console.warn(`cybermesh: lattice of ${inflated.length} bytes, want ${packed.length}`);
    }
    valid = false;
    return false;
  }
  const p = packed;
  const n = p.length;
  let changed = cellsTick < 0;
  if (key) {
    for (let i = 0; i < n && !changed; i++) changed = p[i] !== inflated[i];
    if (changed) p.set(inflated);
  } else {
    let any = 0;
    for (let i = 0; i < n; i++) {
      const d = inflated[i];
      any |= d;
      p[i] ^= d;
    }
    changed = changed || any !== 0;
  }
  valid = true;
  cellsSeq = f.seq;
  cellsTick = f.tick;
  return changed;
}

async function inflateEnergy(e) {
  try {
    const px = await inflate(e.data);
    if (px.length === e.w * e.h) return px;
    decodeErrors++;
  } catch (err) {
    decodeErrors++;
    console.warn("cybermesh: cannot inflate energy", err);
  }
  return null;
}

// ---- the page ----------------------------------------------------------------------------

self.onmessage = (ev) => {
  const m = ev.data;
  switch (m.type) {
    case "start":
      if (!url) {
        url = m.url;
        renderPort = m.port || null;
        connect();
      }
      break;
    case "send":
    case "raw":
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(m.text);
      else toPage({ type: "unsent", id: m.id ?? null, raw: m.type === "raw" });
      break;
    case "energy":
      wantEnergy = Boolean(m.on);
      if (wantEnergy) {
        later(async () => {
          const e = energy;
          if (!e) return;
          const px = await inflateEnergy(e);
          if (!px) return;
          const out = { w: e.w, h: e.h, max: e.max, tick: e.tick, pixels: px.buffer };
          if (renderPort) renderPort.postMessage({ type: "energy", energy: out }, [px.buffer]);
        });
      }
      break;
    default:
      break;
  }
};
