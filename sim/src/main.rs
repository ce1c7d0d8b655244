//! `raas`: run, validate and list RaaS scenarios. See `raas --help`.

fn main() -> std::process::ExitCode {
    sim::cli::main()
}
