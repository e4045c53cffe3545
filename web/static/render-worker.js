// The lattice canvas, drawn off the page's main thread (a module worker with the canvas's
// OffscreenCanvas). Frames come straight from the socket worker over a MessagePort; view
// commands (size, zoom and pan, layers, draw rate) from the page, which hears back what was
// drawn: {type: "drawn", tick, latencies} (see Renderer).

import { Renderer } from "./draw.js";

let renderer = null;

self.onmessage = (ev) => {
  const m = ev.data;
  if (m.type === "init") {
    renderer = new Renderer(m.canvas, (drawn) => self.postMessage(drawn));
    m.port.onmessage = (e) => renderer.onSocket(e.data);
    return;
  }
  if (renderer) renderer.command(m);
};
