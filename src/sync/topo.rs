//! Topological sort of buffered nodes into levels, children first (Kahn's algorithm, O(N + E)).
//!
//! Only edges between nodes of the set count: a child outside it is assumed to be on the server
//! already (if it is not, the server says so per node). A cycle, which only a bad
//! `getChildKeys` can produce, is reported with the nodes it blocks, never a hang.

use std::collections::HashMap;

use crate::key::Key;

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
    let mut index: HashMap<Key, usize> = HashMap::with_capacity(nodes.len());
    let mut unique: Vec<&(Key, Vec<Key>)> = Vec::with_capacity(nodes.len());
    for entry in nodes {
        if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(entry.0) {
            slot.insert(unique.len());
            unique.push(entry);
        }
    }
    // waiting[i]: in-set children of node i not yet placed; parents[j]: nodes naming node j.
    let mut waiting = vec![0usize; unique.len()];
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); unique.len()];
    for (i, (_, children)) in unique.iter().enumerate() {
        for child in children {
            if let Some(&j) = index.get(child) {
                waiting[i] += 1;
                parents[j].push(i);
            }
        }
    }
    let mut current: Vec<usize> = (0..unique.len()).filter(|&i| waiting[i] == 0).collect();
    let mut levels = Vec::new();
    let mut placed = 0;
    while !current.is_empty() {
        placed += current.len();
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
    let mut cyclic: Vec<Key> = if placed == unique.len() {
        Vec::new()
    } else {
        (0..unique.len())
            .filter(|&i| waiting[i] > 0)
            .map(|i| unique[i].0)
            .collect()
    };
    cyclic.sort_unstable();
    Levels { levels, cyclic }
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
}
