//! Every frame on the air: versioned binary encoding, checksums,
//! fragmentation to the MTU and reassembly (issue #4; being built).
