//! Memory of one node: what its peer tables cost per tracked peer.
//!
//! A counting global allocator wraps the system one and keeps the live
//! heap bytes; this file holds a single test so no other test thread
//! allocates while it counts. Heap is measured right after construction,
//! where every per-peer table is allocated (aggregation scratch grows on
//! the first round and is not counted here).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

use node_core::node::{Node, NodeConfig};
use node_core::reputation::Entry;
use node_core::wire::Encoding;

struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards every call unchanged to `System`, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Live heap bytes of a default node whose peer tables hold `peers`.
fn heap_of(peers: u8) -> i64 {
    let mut config = NodeConfig::default();
    config.delta.tracked_peers = peers;
    config.reputation.max_peers = u32::from(peers);
    config.inbox_max = peers;
    let before = LIVE.load(Ordering::Relaxed);
    let node = Node::new(config).unwrap();
    let heap = LIVE.load(Ordering::Relaxed) - before;
    drop(node);
    heap
}

#[test]
fn per_peer_memory_is_what_the_docs_say() {
    let (small, large) = (heap_of(8), heap_of(32));
    println!(
        "inline {} B; heap {small} B at 8 peers, {large} B at 32",
        core::mem::size_of::<Node>()
    );
    let dim = NodeConfig::default().model.window_len as usize + 1;
    assert_eq!(dim, 9);
    // Reputation entry, then the peer-model slot (gossip::delta docs): id,
    // keyframe round, flags byte, the public model and the last BFP-8 delta.
    let per_peer =
        core::mem::size_of::<Entry>() + 4 + 4 + 1 + 4 * dim + Encoding::Bfp8.words_len(dim);
    assert_eq!(per_peer, 20 + 55);
    assert_eq!((large - small) as usize, 24 * per_peer);
    default_node_stays_within_its_measured_size(small);
}

/// The whole default node at the simulator's default 8 peers: `size_of`
/// plus the heap it owns after construction (the aggregation scratch grows
/// on the first aggregation and is not counted). Measured on x86_64 with
/// `cargo test -p node-core --test node_memory -- --nocapture`: 1,584 B
/// inline + 772 B heap = 2,356 B (was 2,512 + 772 before audit state,
/// reassembler, stateful aggregators and rare scratch buffers were boxed).
/// `raas bench`'s `node B` column measures the same through the simulator.
fn default_node_stays_within_its_measured_size(heap: i64) {
    let inline = core::mem::size_of::<Node>() as i64;
    if cfg!(target_pointer_width = "32") {
        return; // the figures below are a 64-bit host's
    }
    println!("default node: {inline} B inline + {heap} B heap at 8 peers");
    assert!(inline <= 1_584, "Node grew to {inline} B inline");
    assert!(inline + heap <= 2_356, "Node grew to {} B", inline + heap);
}
