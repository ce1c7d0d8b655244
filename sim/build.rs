//! Records the git commit the `raas` binary is built from, for
//! `summary.json` (`git_commit`, `git_dirty`).
//!
//! Sets `RAAS_GIT_COMMIT` (40 hex digits) and `RAAS_GIT_DIRTY` (`true` or
//! `false`) when the crate sits in a git checkout and `git` runs; sets
//! nothing otherwise (the binary then reports `"unknown"`). Never fails the
//! build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // Our sources and the node runtime's: editing them can change
    // `git_dirty`, which is only computed when this script runs.
    for watched in ["src", "Cargo.toml", "../node-core/src", "../Cargo.toml"] {
        println!(
            "cargo:rerun-if-changed={}",
            manifest.join(watched).display()
        );
    }
    if !manifest.ancestors().any(|dir| dir.join(".git").exists()) {
        return;
    }
    let Some(commit) = git(&manifest, &["rev-parse", "HEAD"]) else {
        return;
    };
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return;
    }
    println!("cargo:rustc-env=RAAS_GIT_COMMIT={commit}");
    if let Some(status) = git(&manifest, &["--no-optional-locks", "status", "--porcelain"]) {
        let dirty = !status.trim().is_empty();
        println!("cargo:rustc-env=RAAS_GIT_DIRTY={dirty}");
    }
    watch_head(&manifest);
}

/// Reruns this script when HEAD moves: HEAD itself (in a worktree, the
/// worktree's own), the branch it points to, packed refs and the index.
fn watch_head(manifest: &Path) {
    let absolute = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { manifest.join(p) }
    };
    let Some(git_dir) = git(manifest, &["rev-parse", "--git-dir"]).map(absolute) else {
        return;
    };
    let common = git(manifest, &["rev-parse", "--git-common-dir"])
        .map(absolute)
        .unwrap_or_else(|| git_dir.clone());
    let mut watched = vec![
        git_dir.join("HEAD"),
        git_dir.join("index"),
        common.join("packed-refs"),
    ];
    if let Some(reference) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common.join(&reference));
        watched.push(git_dir.join(&reference));
    }
    for path in watched {
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// `git ARGS` run in `dir`, its trimmed standard output if it succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8(output.stdout).ok()?.trim().to_string())
}
