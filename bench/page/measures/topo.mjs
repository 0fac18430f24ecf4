// Measure 2: topological sort (levels, children first) of a 100,000-node DAG: casweb's
// topoSortLevels (wasm, boundary crossing included) against the same algorithm in plain JS.
import { collectGarbage, prng, speedup, timed } from "../util.mjs";

const NODES = 100_000;
const WINDOW = 1000; // children are picked among the WINDOW nodes made just before

/** A random DAG as topoSortLevels takes it, in shuffled order: about 2 children per node. */
function makeDag(casweb) {
  const random = prng(8);
  const keys = [];
  const children = [];
  for (let i = 0; i < NODES; i++) {
    keys.push(casweb.keyOf(new Uint8Array(new Uint32Array([i, 0x746f706f]).buffer)));
    const count = i === 0 ? 0 : Math.floor(random() * 5);
    const picked = [];
    for (let c = 0; c < count; c++) {
      picked.push(Math.max(0, i - 1 - Math.floor(random() * Math.min(i, WINDOW))));
    }
    children.push(picked);
  }
  const order = keys.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return {
    keys: order.map((i) => keys[i]),
    children: order.map((i) => children[i].map((c) => keys[c])),
  };
}

/** Kahn's algorithm in levels, written plainly, with casweb's rules: a repeated key counts
 *  once (first entry wins), children outside the set are ignored, a level keeps input order. */
export function jsTopoSortLevels(keys, children) {
  const index = new Map();
  const unique = [];
  for (let i = 0; i < keys.length; i++) {
    if (!index.has(keys[i])) {
      index.set(keys[i], unique.length);
      unique.push(i);
    }
  }
  const waiting = new Array(unique.length).fill(0);
  const parents = unique.map(() => []);
  unique.forEach((input, i) => {
    for (const child of children[input]) {
      const j = index.get(child);
      if (j !== undefined) {
        waiting[i]++;
        parents[j].push(i);
      }
    }
  });
  let current = [];
  for (let i = 0; i < unique.length; i++) if (waiting[i] === 0) current.push(i);
  const levels = [];
  let placed = 0;
  while (current.length > 0) {
    placed += current.length;
    const next = [];
    for (const j of current) {
      for (const i of parents[j]) {
        if (--waiting[i] === 0) next.push(i);
      }
    }
    next.sort((a, b) => a - b);
    levels.push(current.map((i) => keys[unique[i]]));
    current = next;
  }
  const cyclic = placed === unique.length
    ? []
    : unique.filter((_, i) => waiting[i] > 0).map((input) => keys[input]).sort();
  return { levels, cyclic };
}

export default {
  id: "topo",
  title: "2. Topological sort of a 100,000-node DAG",
  description:
    "A random DAG of 100,000 nodes (0 to 4 children each, picked among the 1,000 nodes made " +
    "before; shuffled), given as `keys: string[]` and `children: string[][]` and sorted into " +
    "levels (`string[][]`). casweb: `topoSortLevels` (wasm; converting the input in and the " +
    "levels out is included). Plain JS: the same Kahn algorithm with a Map, in this page.",
  rounds: 5,
  contenders: [
    { id: "casweb", label: "casweb topoSortLevels (wasm)" },
    { id: "js-kahn", label: "plain JS Kahn" },
  ],
  metrics: [
    { id: "sortMs", label: "sort", unit: "ms", lowerIsBetter: true },
    { id: "levels", label: "levels", unit: "", lowerIsBetter: false },
  ],
  async run(contender, { casweb }) {
    const dag = makeDag(casweb);
    const sort = contender === "casweb" ? casweb.topoSortLevels : jsTopoSortLevels;
    collectGarbage();
    let sorted;
    const sortMs = await timed(() => {
      sorted = sort(dag.keys, dag.children);
    });
    const placed = sorted.levels.reduce((sum, level) => sum + level.length, 0);
    if (placed !== NODES || sorted.cyclic.length !== 0) {
      throw new Error(`${contender} placed ${placed} of ${NODES} nodes`);
    }
    return { sortMs, levels: sorted.levels.length };
  },
  targets(medians) {
    const ratio = speedup(medians, "sortMs", "casweb", "js-kahn");
    return [{ label: "casweb ≥ 2× faster than plain JS", value: `${ratio.toFixed(2)}×`, met: ratio >= 2 }];
  },
};
