//! Who hears whom: full mesh, k-nearest grid and random geometric graphs.
//!
//! Explicit topologies store their undirected links in CSR form (an
//! `offsets` array of `n + 1` entries into one `targets` array), each
//! neighbour list sorted by id, so a node's neighbours are one contiguous
//! slice. The full mesh is implicit: it stores nothing per link.
//!
//! Construction is `O(n·k)`: grid nodes search a small window of grid cells
//! around themselves, random geometric nodes are bucketed into cells at least
//! `range` wide and compare only with the 3 × 3 surrounding cells.

use std::fmt;

use node_core::rng::{Purpose, stream};
use node_core::runtime::NodeId;
use rand_core::Rng;
use serde::{Deserialize, Serialize};

/// Which topology the radio uses (`radio.topology`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TopologyKind {
    /// Every node hears every other node.
    #[default]
    FullMesh,
    /// Nodes on a square grid, each linked to its `k` nearest grid neighbours.
    Grid,
    /// Nodes uniform in the unit square, linked when within `range`.
    RandomGeometric,
}

/// A fully resolved topology description, ready to build.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TopologySpec {
    /// Every node hears every other node.
    FullMesh,
    /// Square grid of width `ceil(sqrt(n))`, row-major by id; each node is
    /// linked to its `k` nearest nodes by Euclidean distance (ties broken by
    /// lower id), and links are made symmetric (union).
    Grid {
        /// Nearest neighbours chosen by each node.
        k: u32,
    },
    /// Positions uniform in the unit square, link iff distance ≤ `range`.
    RandomGeometric {
        /// Link range, in unit-square side lengths.
        range: f64,
    },
}

/// Why a topology could not be built.
#[derive(Clone, Debug, PartialEq)]
pub enum TopologyError {
    /// The graph would hold more directed links than `max`.
    TooManyLinks {
        /// The link cap.
        max: u64,
    },
    /// `k` or `range` is outside its valid domain.
    BadParameter {
        /// What was wrong.
        what: &'static str,
    },
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopologyError::TooManyLinks { max } => write!(
                f,
                "topology would hold more than {max} directed links; lower `range` or `k`"
            ),
            TopologyError::BadParameter { what } => write!(f, "bad topology parameter: {what}"),
        }
    }
}

impl std::error::Error for TopologyError {}

/// Cap on stored directed links (8 GiB of `u32` targets).
pub const MAX_LINKS: u64 = 1 << 31;

/// Fixed-point scale of random geometric coordinates: the unit square side
/// is `2^31` units, so a squared distance fits a `u64`.
const RGG_SCALE: u64 = 1 << 31;

/// Degree and connectivity summary of a topology.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConnectivityStats {
    /// Smallest degree (0 for an empty graph).
    pub min_degree: u64,
    /// Mean degree.
    pub mean_degree: f64,
    /// Largest degree.
    pub max_degree: u64,
    /// Number of connected components.
    pub components: u64,
}

impl ConnectivityStats {
    /// Whether every node can reach every other (at most one component).
    pub fn connected(&self) -> bool {
        self.components <= 1
    }
}

/// Undirected neighbour lists in CSR form, sorted by id.
#[derive(Clone, Debug, Default)]
struct Csr {
    offsets: Vec<u64>,
    targets: Vec<NodeId>,
}

/// Node placement, for region-based models (storms, partitions).
#[derive(Clone, Debug)]
enum Layout {
    /// Row-major on a square grid of this width.
    Grid { width: u32 },
    /// Explicit fixed-point coordinates, `RGG_SCALE` units per side.
    Points(Vec<[u32; 2]>),
}

/// A built topology over nodes `0..n`.
#[derive(Clone, Debug)]
pub struct Topology {
    n: u32,
    csr: Option<Csr>,
    layout: Layout,
}

/// Iterator over one node's neighbours in increasing id order.
#[derive(Clone, Debug)]
pub enum Neighbours<'a> {
    /// Explicit list.
    List(std::iter::Copied<std::slice::Iter<'a, NodeId>>),
    /// Full mesh: `0..n` skipping the node itself.
    AllBut {
        /// Next id to yield.
        next: u32,
        /// One past the last id.
        end: u32,
        /// The id to skip.
        skip: u32,
    },
}

impl Iterator for Neighbours<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        match self {
            Neighbours::List(it) => it.next(),
            Neighbours::AllBut { next, end, skip } => {
                if *next == *skip {
                    *next += 1;
                }
                (*next < *end).then(|| {
                    *next += 1;
                    *next - 1
                })
            }
        }
    }
}

impl Topology {
    /// Builds `spec` over `n` nodes; random placements come from each node's
    /// own `(seed, node, Topology)` stream, so a node's position does not
    /// depend on `n`.
    pub fn build(spec: TopologySpec, n: u32, seed: u64) -> Result<Topology, TopologyError> {
        let width = grid_width(n);
        match spec {
            TopologySpec::FullMesh => Ok(Topology {
                n,
                csr: None,
                layout: Layout::Grid { width },
            }),
            TopologySpec::Grid { k } => {
                if k == 0 {
                    return Err(TopologyError::BadParameter {
                        what: "k must be ≥ 1",
                    });
                }
                let csr = build_grid(n, width, k)?;
                Ok(Topology {
                    n,
                    csr: Some(csr),
                    layout: Layout::Grid { width },
                })
            }
            TopologySpec::RandomGeometric { range } => {
                if !(range.is_finite() && range > 0.0) {
                    return Err(TopologyError::BadParameter {
                        what: "range must be finite and > 0",
                    });
                }
                let points = rgg_points(n, seed);
                let csr = build_rgg(&points, range)?;
                Ok(Topology {
                    n,
                    csr: Some(csr),
                    layout: Layout::Points(points),
                })
            }
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> u32 {
        self.n
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Whether links are implicit (full mesh).
    pub fn is_full_mesh(&self) -> bool {
        self.csr.is_none()
    }

    /// Number of neighbours of `node` (`node < n`).
    pub fn degree(&self, node: NodeId) -> u64 {
        match &self.csr {
            None => u64::from(self.n.saturating_sub(1)),
            Some(csr) => {
                let i = node as usize;
                csr.offsets[i + 1] - csr.offsets[i]
            }
        }
    }

    /// The neighbours of `node` (`node < n`), in increasing id order.
    pub fn neighbours(&self, node: NodeId) -> Neighbours<'_> {
        match &self.csr {
            None => Neighbours::AllBut {
                next: 0,
                end: self.n,
                skip: node,
            },
            Some(csr) => Neighbours::List(csr.slice(node).iter().copied()),
        }
    }

    /// The explicit neighbour slice of `node`, or `None` for the full mesh.
    pub fn neighbour_slice(&self, node: NodeId) -> Option<&[NodeId]> {
        self.csr.as_ref().map(|csr| csr.slice(node))
    }

    /// Whether `a` and `b` are distinct linked nodes (`O(log degree)`).
    pub fn is_neighbour(&self, a: NodeId, b: NodeId) -> bool {
        if a == b || a >= self.n || b >= self.n {
            return false;
        }
        match &self.csr {
            None => true,
            Some(csr) => csr.slice(a).binary_search(&b).is_ok(),
        }
    }

    /// Position of `node` in the unit square `[0, 1]²`. Grid and full-mesh
    /// nodes sit at cell centres `((col + ½)/w, (row + ½)/w)` of a
    /// `w = ceil(sqrt(n))` grid; random geometric nodes at their drawn point.
    pub fn position(&self, node: NodeId) -> [f64; 2] {
        match &self.layout {
            Layout::Grid { width } => {
                let w = f64::from(*width);
                let (col, row) = (node % width, node / width);
                [(f64::from(col) + 0.5) / w, (f64::from(row) + 0.5) / w]
            }
            Layout::Points(points) => {
                let [x, y] = points[node as usize];
                let s = RGG_SCALE as f64;
                [f64::from(x) / s, f64::from(y) / s]
            }
        }
    }

    /// Degree statistics and connected components (one bounded BFS pass:
    /// every node is enqueued at most once).
    pub fn stats(&self) -> ConnectivityStats {
        let (mut min, mut max, mut sum) = (u64::MAX, 0_u64, 0_u64);
        for node in 0..self.n {
            let d = self.degree(node);
            min = min.min(d);
            max = max.max(d);
            sum += d;
        }
        if self.n == 0 {
            min = 0;
        }
        ConnectivityStats {
            min_degree: min,
            mean_degree: if self.n == 0 {
                0.0
            } else {
                sum as f64 / f64::from(self.n)
            },
            max_degree: max,
            components: self.components(),
        }
    }

    fn components(&self) -> u64 {
        match &self.csr {
            None => u64::from(self.n.min(1)),
            Some(csr) => csr.components(),
        }
    }
}

impl Csr {
    fn slice(&self, node: NodeId) -> &[NodeId] {
        let i = node as usize;
        &self.targets[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Symmetric CSR from directed arcs `(from, to)`: each arc is stored in
    /// both directions, then each list is sorted and deduplicated.
    fn symmetric(n: u32, from: &[NodeId], to: &[NodeId]) -> Result<Csr, TopologyError> {
        let arcs = 2 * from.len() as u64;
        if arcs > MAX_LINKS {
            return Err(TopologyError::TooManyLinks { max: MAX_LINKS });
        }
        let mut offsets = vec![0_u64; n as usize + 1];
        for (&a, &b) in from.iter().zip(to) {
            offsets[a as usize + 1] += 1;
            offsets[b as usize + 1] += 1;
        }
        for i in 0..n as usize {
            offsets[i + 1] += offsets[i];
        }
        let mut fill: Vec<u64> = offsets[..n as usize].to_vec();
        let mut targets = vec![0 as NodeId; arcs as usize];
        for (&a, &b) in from.iter().zip(to) {
            targets[fill[a as usize] as usize] = b;
            fill[a as usize] += 1;
            targets[fill[b as usize] as usize] = a;
            fill[b as usize] += 1;
        }
        drop(fill);
        Ok(Csr::sort_dedup(offsets, targets))
    }

    /// Sorts each list and removes duplicates, compacting in place.
    fn sort_dedup(mut offsets: Vec<u64>, mut targets: Vec<NodeId>) -> Csr {
        let mut write = 0_usize;
        let mut start = 0_usize;
        for i in 0..offsets.len() - 1 {
            let end = offsets[i + 1] as usize;
            targets[start..end].sort_unstable();
            let mut last = None;
            for r in start..end {
                let t = targets[r];
                if last != Some(t) {
                    targets[write] = t;
                    write += 1;
                    last = Some(t);
                }
            }
            start = end;
            offsets[i + 1] = write as u64;
        }
        targets.truncate(write);
        targets.shrink_to_fit();
        Csr { offsets, targets }
    }

    /// Connected components by BFS with an explicit queue.
    fn components(&self) -> u64 {
        let n = self.offsets.len() - 1;
        let mut seen = vec![false; n];
        let mut queue: Vec<NodeId> = Vec::new();
        let mut count = 0;
        for root in 0..n {
            if seen[root] {
                continue;
            }
            count += 1;
            seen[root] = true;
            queue.clear();
            queue.push(root as NodeId);
            let mut head = 0;
            while head < queue.len() {
                let u = queue[head];
                head += 1;
                for &v in self.slice(u) {
                    if !seen[v as usize] {
                        seen[v as usize] = true;
                        queue.push(v);
                    }
                }
            }
        }
        count
    }
}

/// Width of the square grid holding `n` nodes: `ceil(sqrt(n))`, at least 1.
fn grid_width(n: u32) -> u32 {
    let mut w = (f64::from(n)).sqrt() as u32;
    while u64::from(w) * u64::from(w) < u64::from(n) {
        w += 1;
    }
    w.max(1)
}

/// k-nearest-neighbour arcs on the grid, made symmetric.
fn build_grid(n: u32, width: u32, k: u32) -> Result<Csr, TopologyError> {
    let k = k.min(n.saturating_sub(1)) as usize;
    let arcs = n as u64 * k as u64;
    if 2 * arcs > MAX_LINKS {
        return Err(TopologyError::TooManyLinks { max: MAX_LINKS });
    }
    let mut from = Vec::with_capacity(arcs as usize);
    let mut to = Vec::with_capacity(arcs as usize);
    let mut candidates: Vec<(u64, NodeId)> = Vec::new();
    for node in 0..n {
        nearest_on_grid(node, n, width, k, &mut candidates);
        for &(_, other) in &candidates[..k] {
            from.push(node);
            to.push(other);
        }
    }
    Csr::symmetric(n, &from, &to)
}

/// Fills `out` with candidates `(distance², id)` whose first `k` entries are
/// the exact `k` nearest nodes of `node` (ties by id). The search window
/// grows until the k-th distance is strictly inside it, so no node outside
/// could beat or tie it; the window is bounded by the grid size.
fn nearest_on_grid(node: u32, n: u32, width: u32, k: usize, out: &mut Vec<(u64, NodeId)>) {
    out.clear();
    if k == 0 {
        return;
    }
    let rows = n.div_ceil(width);
    let (cx, cy) = (i64::from(node % width), i64::from(node / width));
    let mut half = 1_i64;
    while (2 * half + 1) * (2 * half + 1) < k as i64 + 1 {
        half += 1;
    }
    let limit = i64::from(width.max(rows));
    loop {
        out.clear();
        for y in (cy - half).max(0)..=(cy + half).min(i64::from(rows) - 1) {
            for x in (cx - half).max(0)..=(cx + half).min(i64::from(width) - 1) {
                let id = y * i64::from(width) + x;
                if id < i64::from(n) && id != i64::from(node) {
                    let d2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) as u64;
                    out.push((d2, id as NodeId));
                }
            }
        }
        if out.len() >= k {
            out.select_nth_unstable(k - 1);
            out[..k].sort_unstable();
        }
        let outside = ((half + 1) * (half + 1)) as u64;
        let exact = out.len() >= k && out[k - 1].0 < outside;
        if exact || half >= limit {
            return;
        }
        half *= 2;
    }
}

/// One uniform point per node from its own Topology stream.
fn rgg_points(n: u32, seed: u64) -> Vec<[u32; 2]> {
    (0..n)
        .map(|node| {
            let mut rng = stream(seed, node, Purpose::Topology);
            // Top 31 bits: coordinates in [0, 2^31).
            [rng.next_u32() >> 1, rng.next_u32() >> 1]
        })
        .collect()
}

/// Links every pair within `range` using a cell list with cells at least
/// `range` wide (at most ~n cells), comparing only adjacent cells.
fn build_rgg(points: &[[u32; 2]], range: f64) -> Result<Csr, TopologyError> {
    let n = points.len() as u32;
    let r_units = (range * RGG_SCALE as f64).min(4.0 * RGG_SCALE as f64);
    // Float to integer once; comparisons below are exact integers.
    let r2 = (r_units * r_units) as u64;
    let by_range = (1.0 / range).floor().max(1.0) as u64;
    let cells = by_range.min(u64::from(grid_width(n))).max(1);
    let cell_of = |p: [u32; 2]| -> (u64, u64) {
        let c = |v: u32| (u64::from(v) * cells / RGG_SCALE).min(cells - 1);
        (c(p[0]), c(p[1]))
    };
    let (start, order) = bucket(points, cells, &cell_of);
    let (mut from, mut to) = (Vec::new(), Vec::new());
    for (i, &p) in points.iter().enumerate() {
        let (cx, cy) = cell_of(p);
        for y in cy.saturating_sub(1)..=(cy + 1).min(cells - 1) {
            for x in cx.saturating_sub(1)..=(cx + 1).min(cells - 1) {
                let cell = (y * cells + x) as usize;
                for &j in &order[start[cell] as usize..start[cell + 1] as usize] {
                    if (j as usize) > i && dist2(p, points[j as usize]) <= r2 {
                        from.push(i as NodeId);
                        to.push(j);
                    }
                }
            }
        }
        if 2 * from.len() as u64 > MAX_LINKS {
            return Err(TopologyError::TooManyLinks { max: MAX_LINKS });
        }
    }
    Csr::symmetric(n, &from, &to)
}

/// Counting sort of node ids by cell: `order[start[c]..start[c+1]]` holds
/// cell `c`'s nodes in increasing id order.
fn bucket(
    points: &[[u32; 2]],
    cells: u64,
    cell_of: &impl Fn([u32; 2]) -> (u64, u64),
) -> (Vec<u32>, Vec<NodeId>) {
    let index = |p| {
        let (x, y) = cell_of(p);
        (y * cells + x) as usize
    };
    let mut start = vec![0_u32; (cells * cells) as usize + 1];
    for &p in points {
        start[index(p) + 1] += 1;
    }
    for c in 0..(cells * cells) as usize {
        start[c + 1] += start[c];
    }
    let mut fill = start.clone();
    let mut order = vec![0 as NodeId; points.len()];
    for (i, &p) in points.iter().enumerate() {
        let c = index(p);
        order[fill[c] as usize] = i as NodeId;
        fill[c] += 1;
    }
    (start, order)
}

fn dist2(a: [u32; 2], b: [u32; 2]) -> u64 {
    let dx = u64::from(a[0].abs_diff(b[0]));
    let dy = u64::from(a[1].abs_diff(b[1]));
    dx * dx + dy * dy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(t: &Topology, node: NodeId) -> Vec<NodeId> {
        t.neighbours(node).collect()
    }

    fn assert_symmetric(t: &Topology) {
        for a in 0..t.len() {
            for b in t.neighbours(a) {
                assert!(t.is_neighbour(b, a), "{a}->{b} not symmetric");
            }
            let l = list(t, a);
            assert!(l.windows(2).all(|w| w[0] < w[1]), "unsorted list of {a}");
            assert!(!l.contains(&a));
            assert_eq!(l.len() as u64, t.degree(a));
        }
    }

    #[test]
    fn full_mesh_is_implicit_and_complete() {
        let t = Topology::build(TopologySpec::FullMesh, 5, 1).unwrap();
        assert_eq!(list(&t, 0), [1, 2, 3, 4]);
        assert_eq!(list(&t, 2), [0, 1, 3, 4]);
        assert_eq!(list(&t, 4), [0, 1, 2, 3]);
        assert!(t.is_full_mesh() && t.neighbour_slice(0).is_none());
        let s = t.stats();
        assert_eq!((s.min_degree, s.max_degree, s.components), (4, 4, 1));
        assert!(!t.is_neighbour(3, 3) && !t.is_neighbour(3, 5));
        assert_symmetric(&t);
    }

    #[test]
    fn grid_k4_on_3x3_matches_hand_computed_lists() {
        // Directed 4-NN (ties by id), e.g. corner 0: 1, 3 (d=1), 4 (√2),
        // then 2 over 6 (d=2, lower id); then the union of both directions.
        let t = Topology::build(TopologySpec::Grid { k: 4 }, 9, 0).unwrap();
        let expected: [&[NodeId]; 9] = [
            &[1, 2, 3, 4, 6],
            &[0, 2, 3, 4, 5],
            &[0, 1, 4, 5, 8],
            &[0, 1, 4, 6, 7],
            &[0, 1, 2, 3, 5, 6, 7, 8],
            &[1, 2, 4, 8],
            &[0, 3, 4, 7],
            &[3, 4, 6, 8],
            &[2, 4, 5, 7],
        ];
        for (node, want) in expected.iter().enumerate() {
            assert_eq!(list(&t, node as NodeId), *want, "node {node}");
        }
        assert_symmetric(&t);
    }

    #[test]
    fn grid_interior_degrees_and_connectivity() {
        let t = Topology::build(TopologySpec::Grid { k: 8 }, 100, 0).unwrap();
        assert_symmetric(&t);
        // Interior node (5,5) = id 55: its 8 Moore neighbours exactly.
        assert_eq!(list(&t, 55), [44, 45, 46, 54, 56, 64, 65, 66]);
        let s = t.stats();
        assert!(s.connected());
        assert!(s.min_degree >= 8);
        // Partial last row and k ≥ n − 1 degenerate to complete graphs.
        let small = Topology::build(TopologySpec::Grid { k: 8 }, 3, 0).unwrap();
        assert_eq!(list(&small, 0), [1, 2]);
        let odd = Topology::build(TopologySpec::Grid { k: 2 }, 7, 0).unwrap();
        assert_symmetric(&odd);
    }

    #[test]
    fn rgg_is_reproducible_symmetric_and_matches_brute_force() {
        let spec = TopologySpec::RandomGeometric { range: 0.15 };
        let a = Topology::build(spec, 300, 7).unwrap();
        let b = Topology::build(spec, 300, 7).unwrap();
        let c = Topology::build(spec, 300, 8).unwrap();
        assert_symmetric(&a);
        let all = |t: &Topology| (0..300).map(|i| list(t, i)).collect::<Vec<_>>();
        assert_eq!(all(&a), all(&b));
        assert_ne!(all(&a), all(&c));
        let Layout::Points(p) = &a.layout else {
            panic!("rgg has points")
        };
        let r = 0.15 * RGG_SCALE as f64;
        let r2 = (r * r) as u64;
        for i in 0..300_u32 {
            let brute: Vec<NodeId> = (0..300_u32)
                .filter(|&j| j != i && dist2(p[i as usize], p[j as usize]) <= r2)
                .collect();
            assert_eq!(list(&a, i), brute);
        }
        // Mean degree ≈ n·π·r² (minus border effects): loose sanity bound.
        let s = a.stats();
        assert!(s.mean_degree > 10.0 && s.mean_degree < 25.0, "{s:?}");
        let [x, y] = a.position(3);
        assert!((0.0..1.0).contains(&x) && (0.0..1.0).contains(&y));
    }

    #[test]
    fn rgg_tiny_range_is_disconnected_and_link_cap_holds() {
        let t = Topology::build(TopologySpec::RandomGeometric { range: 1e-9 }, 50, 1).unwrap();
        let s = t.stats();
        assert_eq!((s.max_degree, s.components), (0, 50));
        assert!(!s.connected());
        let bad = Topology::build(TopologySpec::RandomGeometric { range: 0.0 }, 5, 1);
        assert!(matches!(bad, Err(TopologyError::BadParameter { .. })));
    }

    #[test]
    fn grid_positions_are_cell_centres() {
        let t = Topology::build(TopologySpec::Grid { k: 4 }, 9, 0).unwrap();
        assert_eq!(t.position(0), [1.0 / 6.0, 1.0 / 6.0]);
        assert_eq!(t.position(5), [5.0 / 6.0, 0.5]);
    }
}
