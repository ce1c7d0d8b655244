//! Any bytes → `Node::restore` must not panic; on error the node is left
//! unchanged (its own snapshot is the same before and after); on success
//! the node keeps running without a panic and its snapshot restores again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::node::{Node, NodeConfig};
use node_core::q::Q;
use node_core::runtime::Runtime;
use node_core::time::Instant;

fn snapshot(node: &Node) -> Vec<u8> {
    let mut buf = vec![0u8; node.snapshot_len()];
    let len = node.snapshot(&mut buf).expect("buffer of snapshot_len");
    buf.truncate(len);
    buf
}

fuzz_target!(|data: &[u8]| {
    let mut node = Node::new(NodeConfig::default()).expect("default config");
    let before = snapshot(&node);
    if node.restore(data).is_err() {
        assert_eq!(snapshot(&node), before, "unchanged on error");
        return;
    }
    let again = snapshot(&node);
    let mut copy = Node::new(NodeConfig::default()).expect("default config");
    copy.restore(&again).expect("a node's own snapshot restores");
    let mut buf = [0u8; 250];
    for second in 0..30u64 {
        let now = Instant::from_secs(1_000_000 + second);
        node.handle_sample(now, Q::from_bits((second as i32 - 15) << 12));
        node.handle_wake(now);
        while node.poll_transmit(now, &mut buf).is_some() {}
    }
});
