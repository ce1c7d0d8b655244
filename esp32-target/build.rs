//! Links with esp-hal's `linkall.x`: the memory map, the ROM function
//! addresses and the section layout the ESP32-C6 boots with. Without it the
//! link fails with undefined `_rwtext_start` and friends.
fn main() {
    println!("cargo:rustc-link-arg=-Tlinkall.x");
}
