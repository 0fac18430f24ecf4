// Small DOM and formatting helpers shared by the demo's panels: elements, sizes, plurals, progress
// bars, and the one error box, shown next to whatever caused the error.
import { describeError, errorDetail } from "./errors.js";

/** `document.createElement(tag)` with properties and children. */
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** "1 node", "2 nodes" ("1 pass", "2 passes"). */
export function plural(count, noun) {
  const many = /(s|sh|ch|x)$/.test(noun) ? `${noun}es` : `${noun}s`;
  return `${count.toLocaleString("en")} ${count === 1 ? noun : many}`;
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** Whole percent of `done` out of `total`, 100 when there is nothing to do. */
export function percent(done, total) {
  return total > 0 ? Math.min(100, Math.floor((100 * done) / total)) : 100;
}

/**
 * A labelled progress bar: `label` says what it measures, `detail` how far it is. `data-percent`
 * carries the number for tests and the stylesheet; `state` colours it (data-state).
 */
export function progressBar({ label, detail, done, total, state = "running", className = "" }) {
  const value = percent(done, total);
  const fill = el("div");
  fill.style.width = `${value}%`;
  const bar = el("div", { className: `progress ${className}`.trim() },
    el("span", { className: "progress-label", textContent: label }), " ",
    el("span", { className: "progress-detail", textContent: detail }),
    el("div", { className: "bar" }, fill));
  bar.dataset.percent = String(value);
  bar.dataset.state = state;
  return bar;
}

/**
 * The page's error box (`#error`), moved next to the action that failed: `show(error, { place })`
 * puts it in the `.error-slot[data-place=PLACE]` of that section ("store", "fetch", "p2p"; the top
 * of the page when there is no such slot). One box: a new error replaces the last one.
 */
export class ErrorBox {
  constructor(box, server) {
    this.box = box;
    this.server = server;
    this.topSlot = box.parentElement;
    /** Whether the box shows a sync failure (cleared by the next clean sync pass). */
    this.fromSync = false;
    box.querySelector(".dismiss").addEventListener("click", () => this.clear());
  }

  show(error, context = {}) {
    const slot = document.querySelector(`.error-slot[data-place="${context.place}"]`) ?? this.topSlot;
    if (this.box.parentElement !== slot) slot.append(this.box);
    this.box.dataset.place = context.place ?? "page";
    this.box.querySelector(".error-text").textContent = describeError(error, { server: this.server, ...context });
    this.box.querySelector(".error-detail").textContent = errorDetail(error);
    this.box.hidden = false;
    this.fromSync = Boolean(context.fromSync);
  }

  /** Hides the box; with `place`, only if it shows an error of that place. */
  clear(place) {
    if (place && this.box.dataset.place !== place) return;
    this.box.hidden = true;
    this.fromSync = false;
  }
}

/**
 * `fn` called at most every `ms` (trailing: the last call always runs); `.now()` runs it at once,
 * `.cancel()` drops a pending run. For progress callbacks that fire per chunk.
 */
export function throttle(fn, ms = 100) {
  let timer = null;
  const run = () => {
    timer = null;
    fn();
  };
  const throttled = () => {
    timer ??= setTimeout(run, ms);
  };
  throttled.now = () => {
    clearTimeout(timer);
    run();
  };
  throttled.cancel = () => {
    clearTimeout(timer);
    timer = null;
  };
  return throttled;
}
