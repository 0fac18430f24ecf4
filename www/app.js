// casweb demo: store dropped files as node DAGs in IndexedDB and fetch them back by root key.
// Imports the built package exactly as an app would.
import init, { IndexedDbStorage, storeFile, readFile, chunkFile } from "./pkg/casweb.js";

const $ = (selector) => document.querySelector(selector);
const ROOTS_KEY = "casweb-demo-roots";

function showError(error) {
  const box = $("#error");
  box.hidden = false;
  box.textContent = error.code ? `${error.message} (code: ${error.code})` : String(error);
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function loadRoots() {
  try {
    return JSON.parse(localStorage.getItem(ROOTS_KEY) ?? "[]");
  } catch {
    return [];
  }
}

function renderRoots(roots, onFetch) {
  const body = $("#roots tbody");
  body.replaceChildren(...roots.map((root) => {
    const row = document.createElement("tr");
    const cells = [root.name, formatSize(root.size), root.nodes, root.key];
    for (const [i, text] of cells.entries()) {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (i === 3) cell.className = "key";
      row.append(cell);
    }
    const action = document.createElement("td");
    const button = document.createElement("button");
    button.className = "link";
    button.textContent = "fetch";
    button.onclick = () => { $("#fetch-key").value = root.key; onFetch(root.key, root.name); };
    action.append(button);
    row.append(action);
    return row;
  }));
}

async function main() {
  await init();
  const storage = await IndexedDbStorage.open("casweb-demo");
  const roots = loadRoots();
  const refreshStats = () => { $("#stats").textContent = JSON.stringify(storage.stats(), null, 2); };
  refreshStats();

  async function storeFiles(files) {
    $("#error").hidden = true;
    const chunkSize = Number($("#chunk-size").value);
    for (const file of files) {
      try {
        const data = new Uint8Array(await file.arrayBuffer());
        const options = { chunkSize, contentType: (file.type || "application/octet-stream").slice(0, 56) };
        const nodes = chunkFile(data, options).nodes.length;
        const key = await storeFile(storage, data, options);
        roots.unshift({ name: file.name, size: data.length, nodes, key });
        localStorage.setItem(ROOTS_KEY, JSON.stringify(roots.slice(0, 50)));
        renderRoots(roots, fetchFile);
      } catch (error) {
        showError(error);
      }
      refreshStats();
    }
  }

  async function fetchFile(key, name = "download") {
    $("#error").hidden = true;
    const result = $("#fetch-result");
    result.textContent = "fetching...";
    try {
      const file = await readFile(storage, key.trim());
      const url = URL.createObjectURL(new Blob([file.data], { type: file.contentType }));
      result.innerHTML = "";
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      link.textContent = `Download ${formatSize(file.data.length)} (${file.contentType || "unknown type"}), every node verified`;
      result.append(link);
    } catch (error) {
      result.textContent = "";
      showError(error);
    }
    refreshStats();
  }

  renderRoots(roots, fetchFile);
  $("#file").addEventListener("change", (event) => storeFiles(event.target.files));
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    storeFiles(event.dataTransfer.files);
  });
  $("#fetch-form").addEventListener("submit", (event) => {
    event.preventDefault();
    fetchFile($("#fetch-key").value);
  });
}

main().catch(showError);
