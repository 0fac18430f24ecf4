// Measure 2: topological sort (levels, children first) of a 100,000-node DAG: casweb's
// topoSortLevels (wasm, boundary crossing included) against the same algorithm in plain JS.
import { collectGarbage, prng, speedup, timed } from "../util.mjs";

const NODES = 100_000;
const WINDOW = 1000; // children are picked among the WINDOW nodes made just before

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** Writes the 16 bytes a 26-character key string encodes into `out` at `offset`. */
function writeKeyBytes(text, out, offset) {
  let bits = 0;
  let pending = 0;
  let at = offset;
  for (let i = 0; i < text.length; i++) {
    pending = ((pending << 5) | CROCKFORD.indexOf(text[i])) & 0x1fff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (pending >> bits) & 0xff;
    }
  }
}

/** A random DAG as topoSortLevels takes it, in shuffled order: about 2 children per node; also
 *  in the binary form topoSortLevelsPacked takes (keys as bytes, children as positions). */
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
  const positionOf = new Uint32Array(NODES);
  order.forEach((node, position) => {
    positionOf[node] = position;
  });
  const keyBytes = new Uint8Array(NODES * 16);
  const childCounts = new Uint32Array(NODES);
  const childPositions = [];
  order.forEach((node, position) => {
    writeKeyBytes(keys[node], keyBytes, position * 16);
    childCounts[position] = children[node].length;
    for (const child of children[node]) childPositions.push(positionOf[child]);
  });
  return {
    keys: order.map((i) => keys[i]),
    children: order.map((i) => children[i].map((c) => keys[c])),
    packed: { keys: keyBytes, childCounts, children: Uint32Array.from(childPositions) },
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
    "levels out is included). casweb packed: `topoSortLevelsPacked`, the same DAG in binary " +
    "(keys as one `Uint8Array` of 16-byte keys, children as positions in two `Uint32Array`s, " +
    "made before the clock starts) sorted into levels of positions (`Uint32Array[]`). Plain JS: " +
    "the same Kahn algorithm with a Map on the strings, in this page.",
  rounds: 5,
  contenders: [
    { id: "casweb", label: "casweb topoSortLevels (wasm)" },
    { id: "casweb-packed", label: "casweb topoSortLevelsPacked (wasm, binary)" },
    { id: "js-kahn", label: "plain JS Kahn" },
  ],
  metrics: [
    { id: "sortMs", label: "sort", unit: "ms", lowerIsBetter: true },
    { id: "levels", label: "levels", unit: "", lowerIsBetter: false },
  ],
  async run(contender, { casweb }) {
    const dag = makeDag(casweb);
    const { packed } = dag;
    const sort = {
      casweb: () => casweb.topoSortLevels(dag.keys, dag.children),
      "casweb-packed": () => casweb.topoSortLevelsPacked(packed.keys, packed.childCounts, packed.children),
      "js-kahn": () => jsTopoSortLevels(dag.keys, dag.children),
    }[contender];
    collectGarbage();
    let sorted;
    const sortMs = await timed(() => {
      sorted = sort();
    });
    const placed = sorted.levels.reduce((sum, level) => sum + level.length, 0);
    if (placed !== NODES || sorted.cyclic.length !== 0) {
      throw new Error(`${contender} placed ${placed} of ${NODES} nodes`);
    }
    return { sortMs, levels: sorted.levels.length };
  },
  targets(medians) {
    const ratio = speedup(medians, "sortMs", "casweb", "js-kahn");
    const packedRatio = speedup(medians, "sortMs", "casweb-packed", "js-kahn");
    return [
      { label: "casweb (strings) ≥ 2× faster than plain JS", value: `${ratio.toFixed(2)}×`, met: ratio >= 2 },
      {
        label: "casweb packed (binary) ≥ 2× faster than plain JS",
        value: `${packedRatio.toFixed(2)}×`,
        met: packedRatio >= 2,
      },
    ];
  },
};
