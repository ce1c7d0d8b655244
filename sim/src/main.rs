//! `raas`: run, validate and list RaaS scenarios. See `raas --help`.

/// Counts heap bytes for `raas bench` and the memory estimate.
#[global_allocator]
static GLOBAL: sim::alloc_count::CountingAlloc = sim::alloc_count::CountingAlloc;

fn main() -> std::process::ExitCode {
    sim::cli::main()
}
