//! Topological sort of buffered nodes into levels, children first (Kahn's algorithm, O(N + E)).
//!
//! Only edges between nodes of the set count: a child outside it is assumed to be on the server
//! already (if it is not, the server says so per node). A cycle, which only a bad
//! `getChildKeys` can produce, is reported with the nodes it blocks, never a hang.
//!
//! Keys are looked up once, to number the nodes; the sort itself runs on those numbers in flat
//! arrays (no map and no `Vec` per node), which JS's `topoSortLevels` shares.

use crate::key::{Key, KeyMap};

/// Nodes in levels: every in-set child of a node is in an earlier level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Levels {
    pub levels: Vec<Vec<Key>>,
    /// Nodes on a cycle or above one (sorted), which no order can send.
    pub cyclic: Vec<Key>,
}

/// Sorts `nodes` (each key with its child keys) into levels, children first. Duplicate keys are
/// taken once (the first entry wins); the order inside a level follows the input order.
pub fn topo_sort_levels(nodes: &[(Key, Vec<Key>)]) -> Levels {
    let keys: Vec<Key> = nodes.iter().map(|(key, _)| *key).collect();
    let numbering = Numbering::new(&keys);
    let sorted = numbering.sort_levels(&keys, |position| {
        nodes[position]
            .1
            .iter()
            .filter_map(|child| numbering.number(child))
    });
    let key_at = |&position: &u32| keys[position as usize];
    let mut order = sorted.order.iter();
    let levels = sorted
        .level_sizes
        .iter()
        .map(|&size| order.by_ref().take(size as usize).map(key_at).collect())
        .collect();
    Levels {
        levels,
        cyclic: sorted.cyclic.iter().map(key_at).collect(),
    }
}

/// [`Levels`] as positions in the input: `order` holds the levels one after the other,
/// `level_sizes` says where each ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PositionLevels {
    pub order: Vec<u32>,
    pub level_sizes: Vec<u32>,
    /// Positions of the nodes on a cycle or above one, sorted by key.
    pub cyclic: Vec<u32>,
}

/// The distinct keys of a node list numbered `0..` in order of first appearance (fewer than
/// 2^32 nodes), which lets the sort work on numbers instead of keys.
pub(crate) struct Numbering {
    numbers: KeyMap<u32>,
    /// The position in the list where each numbered key first appears.
    first_positions: Vec<u32>,
}

impl Numbering {
    /// Numbers the keys of `keys`.
    pub(crate) fn new(keys: &[Key]) -> Numbering {
        let mut numbers = KeyMap::with_capacity_and_hasher(keys.len(), Default::default());
        let mut first_positions = Vec::with_capacity(keys.len());
        for (position, key) in keys.iter().enumerate() {
            let next = first_positions.len() as u32;
            if *numbers.entry(*key).or_insert(next) == next {
                first_positions.push(position as u32);
            }
        }
        Numbering {
            numbers,
            first_positions,
        }
    }

    /// The number of `key`, if it is in the list.
    pub(crate) fn number(&self, key: &Key) -> Option<u32> {
        self.numbers.get(key).copied()
    }

    /// [`topo_sort_levels`] for the list `keys` this numbering was made from: the node first
    /// at position p has the in-set children `children_at(p)` (their numbers); the children
    /// given at a repeated key's later positions are not asked for.
    pub(crate) fn sort_levels<C: IntoIterator<Item = u32>>(
        &self,
        keys: &[Key],
        children_at: impl Fn(usize) -> C,
    ) -> PositionLevels {
        // The children of node i: child_numbers[child_offsets[i]..child_offsets[i + 1]].
        let mut child_offsets: Vec<u32> = Vec::with_capacity(self.first_positions.len() + 1);
        let mut child_numbers: Vec<u32> = Vec::new();
        child_offsets.push(0);
        for &position in &self.first_positions {
            child_numbers.extend(children_at(position as usize));
            child_offsets.push(child_numbers.len() as u32);
        }
        let sorted = kahn_levels(&child_offsets, &child_numbers);
        let position_of = |&number: &u32| self.first_positions[number as usize];
        let mut cyclic: Vec<u32> = sorted.cyclic.iter().map(position_of).collect();
        cyclic.sort_unstable_by_key(|&position| keys[position as usize]);
        PositionLevels {
            order: sorted.order.iter().map(position_of).collect(),
            level_sizes: sorted.level_sizes,
            cyclic,
        }
    }
}

/// Kahn's algorithm in levels on nodes `0..n` whose children are given in compressed rows
/// (node i: `child_numbers[child_offsets[i]..child_offsets[i + 1]]`); the positions it returns
/// are node numbers. Inside a level, nodes are in ascending order; `cyclic` is ascending too.
fn kahn_levels(child_offsets: &[u32], child_numbers: &[u32]) -> PositionLevels {
    let node_count = child_offsets.len() - 1;
    // waiting[i]: children of node i not yet placed; the parents of node j, in compressed rows.
    let mut waiting: Vec<u32> = child_offsets.windows(2).map(|w| w[1] - w[0]).collect();
    let mut parent_offsets = vec![0u32; node_count + 1];
    for &child in child_numbers {
        parent_offsets[child as usize + 1] += 1;
    }
    for i in 0..node_count {
        parent_offsets[i + 1] += parent_offsets[i];
    }
    let mut parents = vec![0u32; child_numbers.len()];
    let mut filled = parent_offsets.clone();
    for parent in 0..node_count {
        let own =
            &child_numbers[child_offsets[parent] as usize..child_offsets[parent + 1] as usize];
        for &child in own {
            parents[filled[child as usize] as usize] = parent as u32;
            filled[child as usize] += 1;
        }
    }
    let mut order: Vec<u32> = (0..node_count as u32)
        .filter(|&i| waiting[i as usize] == 0)
        .collect();
    let mut level_sizes = Vec::new();
    let mut level_start = 0;
    while level_start < order.len() {
        let level_end = order.len();
        level_sizes.push((level_end - level_start) as u32);
        for at in level_start..level_end {
            let node = order[at] as usize;
            for &parent in
                &parents[parent_offsets[node] as usize..parent_offsets[node + 1] as usize]
            {
                waiting[parent as usize] -= 1;
                if waiting[parent as usize] == 0 {
                    order.push(parent);
                }
            }
        }
        order[level_end..].sort_unstable();
        level_start = level_end;
    }
    let cyclic = if order.len() == node_count {
        Vec::new()
    } else {
        (0..node_count as u32)
            .filter(|&i| waiting[i as usize] > 0)
            .collect()
    };
    PositionLevels {
        order,
        level_sizes,
        cyclic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> Key {
        Key::for_bytes(&n.to_le_bytes())
    }

    #[test]
    fn chain_and_diamond() {
        // d -> (b, c) -> a
        let (a, b, c, d) = (key(1), key(2), key(3), key(4));
        let nodes = vec![(d, vec![b, c]), (b, vec![a]), (c, vec![a]), (a, vec![])];
        let sorted = topo_sort_levels(&nodes);
        assert_eq!(sorted.levels, vec![vec![a], vec![b, c], vec![d]]);
        assert!(sorted.cyclic.is_empty());
    }

    #[test]
    fn children_outside_the_set_and_duplicates_are_ignored() {
        let (a, b, outside) = (key(1), key(2), key(99));
        let nodes = vec![(b, vec![a, outside, a]), (a, vec![outside]), (a, vec![b])];
        let sorted = topo_sort_levels(&nodes);
        assert_eq!(sorted.levels, vec![vec![a], vec![b]]);
    }

    #[test]
    fn cycles_are_reported_with_what_they_block() {
        let (a, b, c, free) = (key(1), key(2), key(3), key(4));
        let nodes = vec![(a, vec![b]), (b, vec![a]), (c, vec![a]), (free, vec![])];
        let sorted = topo_sort_levels(&nodes);
        assert_eq!(sorted.levels, vec![vec![free]]);
        let mut expected = vec![a, b, c];
        expected.sort_unstable();
        assert_eq!(sorted.cyclic, expected);
        let self_loop = topo_sort_levels(&[(a, vec![a])]);
        assert_eq!(self_loop.cyclic, vec![a]);
    }

    #[test]
    fn hundred_thousand_nodes_in_a_wide_tree() {
        // 100,000 leaves under 100 parents under one root: three levels.
        let leaves: Vec<Key> = (0..100_000).map(key).collect();
        let mut nodes: Vec<(Key, Vec<Key>)> = leaves.iter().map(|k| (*k, vec![])).collect();
        let parents: Vec<Key> = (0..100).map(|i| key(1_000_000 + i)).collect();
        for (i, parent) in parents.iter().enumerate() {
            nodes.push((*parent, leaves[i * 1000..(i + 1) * 1000].to_vec()));
        }
        nodes.push((key(2_000_000), parents.clone()));
        nodes.reverse();
        let sorted = topo_sort_levels(&nodes);
        assert_eq!(
            sorted.levels.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100_000, 100, 1]
        );
    }

    #[test]
    fn long_chain_is_one_node_per_level() {
        let keys: Vec<Key> = (0..10_000).map(key).collect();
        let nodes: Vec<(Key, Vec<Key>)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, if i == 0 { vec![] } else { vec![keys[i - 1]] }))
            .collect();
        let sorted = topo_sort_levels(&nodes);
        assert_eq!(sorted.levels.len(), 10_000);
        assert_eq!(sorted.levels[0], vec![keys[0]]);
    }

    /// The straightforward sort (one map of keys, a `Vec` of parents per node), as the oracle.
    fn reference_levels(nodes: &[(Key, Vec<Key>)]) -> Levels {
        use std::collections::HashMap;
        let mut index: HashMap<Key, usize> = HashMap::new();
        let mut unique: Vec<&(Key, Vec<Key>)> = Vec::new();
        for entry in nodes {
            let next = unique.len();
            if *index.entry(entry.0).or_insert(next) == next {
                unique.push(entry);
            }
        }
        let mut waiting = vec![0usize; unique.len()];
        let mut parents: Vec<Vec<usize>> = vec![Vec::new(); unique.len()];
        for (i, (_, children)) in unique.iter().enumerate() {
            for child in children.iter().filter_map(|child| index.get(child)) {
                waiting[i] += 1;
                parents[*child].push(i);
            }
        }
        let mut current: Vec<usize> = (0..unique.len()).filter(|&i| waiting[i] == 0).collect();
        let mut levels = Vec::new();
        while !current.is_empty() {
            let mut next = Vec::new();
            for &j in &current {
                for &i in &parents[j] {
                    waiting[i] -= 1;
                    if waiting[i] == 0 {
                        next.push(i);
                    }
                }
            }
            next.sort_unstable();
            levels.push(current.iter().map(|&i| unique[i].0).collect());
            current = next;
        }
        let mut cyclic: Vec<Key> = (0..unique.len())
            .filter(|&i| waiting[i] > 0)
            .map(|i| unique[i].0)
            .collect();
        cyclic.sort_unstable();
        Levels { levels, cyclic }
    }

    #[test]
    fn random_graphs_sort_like_the_reference() {
        // Small pools make repeated keys, repeated children, outside children and cycles likely.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = |below: u32| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % u64::from(below)) as u32
        };
        for round in 0..200 {
            let pool = 2 + round % 40;
            let nodes: Vec<(Key, Vec<Key>)> = (0..random(60))
                .map(|_| {
                    let node = random(pool);
                    // Mostly children numbered below the node (a DAG), sometimes any (cycles).
                    let children = (0..random(5))
                        .map(|_| {
                            key(if random(8) == 0 {
                                random(pool + 5)
                            } else {
                                random(node + 1)
                            })
                        })
                        .collect();
                    (key(node), children)
                })
                .collect();
            assert_eq!(
                topo_sort_levels(&nodes),
                reference_levels(&nodes),
                "round {round}"
            );
        }
    }

    #[test]
    fn positions_point_at_first_appearances() {
        let (a, b, c) = (key(1), key(2), key(3));
        let keys = [b, a, b, c, a];
        let numbering = Numbering::new(&keys);
        assert_eq!(
            (numbering.number(&b), numbering.number(&a)),
            (Some(0), Some(1))
        );
        assert_eq!(numbering.number(&key(4)), None);
        // b -> a, c -> c (a cycle on itself); later entries for b and a are never asked for.
        let children: [&[Key]; 5] = [&[a], &[], &[c], &[c], &[b]];
        let sorted = numbering.sort_levels(&keys, |position| {
            children[position]
                .iter()
                .filter_map(|child| numbering.number(child))
        });
        assert_eq!(sorted.order, vec![1, 0]);
        assert_eq!(sorted.level_sizes, vec![1, 1]);
        assert_eq!(sorted.cyclic, vec![3]);
    }
}
