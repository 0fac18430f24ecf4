// The demo's P2P panel: own peer id, transport (WebRTC-direct or WebSocket), connected peers,
// advertiser metrics and a "find providers" box. It also decides the cache the demo stores
// through: with peer discovery, AdvertisingStorage(IndexedDbStorage) so stored keys are announced.
//
// Contract with app.js: mountP2pPanel(section, casweb, context) renders into `section` and
// resolves to { wrapCache(local) } (wrapCache may be async). `casweb` is the package's module
// namespace; `context.server` is the server's base URL and `context.showError(error)` reports
// an error in the page's error box.

/** A paragraph with a state the tests and the stylesheet can read (data-state). */
function statusLine(state, text) {
  const line = document.createElement("p");
  line.className = "p2p-status";
  line.dataset.state = state;
  line.textContent = text;
  return line;
}

export async function mountP2pPanel(section, casweb) {
  const body = section.querySelector(".panel-body");
  // Storage-only builds (cargo feature `p2p` off) have no P2pNode: a real state, not an error.
  if (typeof casweb.P2pNode !== "function") {
    body.replaceChildren(
      statusLine("unavailable", "peer discovery: not available in this build"),
      Object.assign(document.createElement("p"), {
        className: "hint",
        textContent: "This package was built without the p2p feature; files are still stored " +
          "in IndexedDB and synced to the server.",
      }),
    );
    return { wrapCache: (local) => local };
  }
  // P2P PLACEHOLDER (owned by the P2P work): start the P2pNode and Advertiser here, render the
  // peer id, transport selector, peers, metrics and the find-providers box, and return
  // { wrapCache: (local) => new casweb.AdvertisingStorage(local, advertiser) }.
  body.replaceChildren(statusLine("pending", "peer discovery: in this build, panel not wired yet"));
  return { wrapCache: (local) => local };
}
