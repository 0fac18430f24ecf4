// The demo's "Fetch a file by root key" panel: reads a file by streaming it (readFileStream, every
// node verified before its bytes; nodes fetched from the server land in the cache), with a
// progress bar and a Cancel button, then offers a download and a preview (image, video, audio,
// the start of a text). Downloads and media are served by the service worker's files/ route
// (sw.js): a streamed save, and a <video> that can seek; without the service worker, a download
// is a Blob built from the same stream and media get no preview.
//
// Contract with app.js: new FetchPanel({ stack, errors, server, nameOf }).bind();
// `panel.fetch(key)` runs a fetch (a new one cancels the running one). `stack` is storage.js's
// (its `storage` may be swapped meanwhile), `errors` the page's ErrorBox, `nameOf(key)` a file
// name known for a root, or null.
import { fileInfo, readFileStream } from "./pkg/index.js";
import { fileUrl } from "./files-route.js";
import { el, formatSize, plural, progressBar, throttle } from "./ui.js";

/** How much of a text file the preview shows. */
const TEXT_PREVIEW_BYTES = 64 * 1024;
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript)|image\/svg\+xml)/;

const $ = (selector) => document.querySelector(selector);

export class FetchPanel {
  constructor({ stack, errors, server, nameOf }) {
    this.stack = stack;
    this.errors = errors;
    this.server = server;
    this.nameOf = nameOf;
    this.form = $("#fetch-form");
    this.input = $("#fetch-key");
    this.cancelButton = $("#fetch-cancel");
    this.progress = $("#fetch-progress");
    this.result = $("#fetch-result");
    this.preview = $("#preview");
    /** The running fetch's controller. */
    this.controller = null;
  }

  bind() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.fetch(this.input.value);
    });
    this.cancelButton.addEventListener("click", () => this.controller?.abort());
    return this;
  }

  async fetch(rawKey) {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const { signal } = controller;
    const key = rawKey.trim();
    const { stack } = this;
    this.errors.clear("fetch");
    this.result.replaceChildren();
    this.result.dataset.state = "running";
    this.preview.replaceChildren();
    this.cancelButton.hidden = false;
    const requestsBefore = stack.http.requestCount;
    let size = 0;
    let progress = { bytes: 0, nodes: 0 };
    const render = throttle(() => this.renderProgress(progress, size, "running"));
    this.progress.replaceChildren(progressBar({ label: "fetching", detail: "reading the root node...", done: 0, total: 1 }));
    try {
      const info = await fileInfo(stack.storage, key, { signal });
      size = info.size;
      render();
      // Read to the end, keeping nothing: this verifies every node and caches those that came
      // from the server; the download and the preview then read them from the cache.
      const reader = readFileStream(stack.storage, key, {
        signal,
        onProgress: (reached) => {
          progress = reached;
          render();
        },
      }).getReader();
      while (!(await reader.read()).done);
      if (this.controller !== controller) return; // replaced by a newer fetch
      render.cancel();
      this.renderProgress(progress, size, "done");
      const requests = stack.http.requestCount - requestsBefore;
      this.showResult(key, info, requests);
    } catch (error) {
      if (this.controller !== controller) return; // replaced by a newer fetch
      render.cancel();
      if (error?.code === "aborted") {
        this.renderProgress(progress, size, "cancelled");
        this.result.dataset.state = "cancelled";
        this.result.replaceChildren(el("span", { className: "cancelled",
          textContent: `Fetch cancelled after ${formatSize(progress.bytes)}. The nodes read so far stay in this browser's cache.` }));
      } else {
        this.progress.replaceChildren();
        this.result.replaceChildren();
        this.result.dataset.state = "error";
        this.errors.show(error, { place: "fetch", key });
      }
    } finally {
      if (this.controller === controller) {
        this.controller = null;
        this.cancelButton.hidden = true;
      }
    }
  }

  renderProgress({ bytes, nodes }, size, state) {
    const detail = `${formatSize(bytes)} of ${formatSize(size)}, ${plural(nodes, "node")} verified`;
    const label = { done: "fetched", cancelled: "fetch cancelled" }[state] ?? "fetching";
    this.progress.replaceChildren(progressBar({ label, detail, done: bytes, total: size, state,
      className: "fetch-progress" }));
  }

  showResult(key, { size, contentType }, requests) {
    const name = this.nameOf(key) ?? `${key}.bin`;
    const source = requests === 0 ? "read from this browser's cache" :
      `fetched from the server (${plural(requests, "request")})`;
    const summary = el("span", { className: "verified",
      textContent: `✓ ${formatSize(size)} (${contentType || "no type"}), every node verified, ${source}.` });
    summary.dataset.source = requests === 0 ? "cache" : "server";
    const link = el("a", { className: "button", textContent: `Download ${name}` });
    if (serviceWorkerReady()) {
      // Not a `download` attribute: Chromium sends those requests past the service worker. The
      // response's Content-Disposition: attachment makes the navigation a download, saved as it
      // streams; it goes to a hidden frame so that an error page cannot replace the demo.
      link.href = fileUrl(document.baseURI, key, { name, download: true, server: this.server });
      link.addEventListener("click", (event) => {
        event.preventDefault();
        this.downloadInFrame(link.href, key);
      });
    } else {
      link.href = "#";
      link.addEventListener("click", (event) => {
        event.preventDefault();
        this.downloadBlob(key, name, contentType);
      });
    }
    this.result.dataset.state = "done";
    this.result.replaceChildren(summary, " ", link);
    this.showPreview(key, name, contentType, size);
  }

  /** Starts a download of `url` in a hidden frame; a page loading there instead is an error. */
  downloadInFrame(url, key) {
    document.querySelector("iframe.download-frame")?.remove();
    const frame = el("iframe", { className: "download-frame", hidden: true });
    frame.addEventListener("load", () => {
      // A download loads no document; this is the service worker's error answer.
      const text = frame.contentDocument?.body?.textContent?.trim() ?? "";
      if (!text) return;
      const [code, ...message] = text.split(": ");
      this.errors.show(Object.assign(new Error(message.join(": ") || text), { name: "CaswebError", code }),
        { place: "fetch", key });
    });
    frame.src = url;
    document.body.append(frame);
  }

  /** Without the service worker: the file as a Blob (Chromium keeps large ones on disk). */
  async downloadBlob(key, name, contentType) {
    try {
      const blob = await new Response(readFileStream(this.stack.storage, key),
        { headers: { "Content-Type": contentType } }).blob();
      const url = URL.createObjectURL(blob);
      el("a", { href: url, download: name }).click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      this.errors.show(error, { place: "fetch", key });
    }
  }

  async showPreview(key, name, contentType, size) {
    const media = /^(image|video|audio)\//.exec(contentType)?.[1];
    if (media) {
      if (!serviceWorkerReady()) {
        this.preview.replaceChildren(el("p", { className: "hint",
          textContent: "Previews of images, videos and audio are served by the demo's service worker, " +
            "which does not control this page (see the Storage section)." }));
        return;
      }
      const src = fileUrl(document.baseURI, key, { name, server: this.server });
      const element = media === "image" ? el("img", { src, alt: name }) :
        el(media, { src, controls: true, preload: "metadata" });
      element.addEventListener("error", () => this.preview.append(el("p", { className: "hint",
        textContent: `The browser could not show this ${media} (${contentType}).` })));
      this.preview.replaceChildren(element);
    } else if (TEXT_TYPES.test(contentType)) {
      try {
        const start = readFileStream(this.stack.storage, key, { length: TEXT_PREVIEW_BYTES });
        const text = new TextDecoder().decode(await new Response(start).arrayBuffer());
        const cut = size > TEXT_PREVIEW_BYTES ?
          [el("p", { className: "hint", textContent: `The first ${formatSize(TEXT_PREVIEW_BYTES)} of ${formatSize(size)}:` })] : [];
        this.preview.replaceChildren(...cut, el("pre", { textContent: text }));
      } catch (error) {
        this.errors.show(error, { place: "fetch", key });
      }
    }
  }
}

/** Whether the files/ route of sw.js answers this page's requests. */
export function serviceWorkerReady() {
  return Boolean(navigator.serviceWorker?.controller) && document.body.dataset.sw === "ready";
}
