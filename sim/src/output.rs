//! Atomic output files.
//!
//! Every result file is written to a temporary sibling (`.NAME.tmp-PID`),
//! flushed and synced, then renamed over its final name. A rename within one
//! directory is atomic on POSIX file systems, so a reader — or a resumed
//! sweep — sees either the complete previous file, the complete new one, or
//! none; an interrupted run never leaves a partial result under a final
//! name. Temporaries a killed process left behind are removed by the next
//! write into the same directory ([`remove_stale_temporaries`]).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes a file atomically: `fill` writes the content to a temporary file in
/// the same directory, which is then synced and renamed to `path`.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = write_then_rename(&tmp, path, fill);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_then_rename(
    tmp: &Path,
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let file = File::create(tmp)?;
    let mut writer = BufWriter::new(file);
    fill(&mut writer)?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, path)
}

/// Removes temporaries (`.NAME.tmp-PID`) that an interrupted writer left in
/// `dir`; returns how many were removed. Only files of that exact shape are
/// touched.
pub fn remove_stale_temporaries(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_temporary = name.starts_with('.')
            && name
                .rsplit_once(".tmp-")
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if is_temporary && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically(path, |w| w.write_all(bytes))
}

/// Checks, without creating anything, that `dir` can hold result files:
/// it is a writable directory, or it does not exist and its nearest
/// existing ancestor is a writable directory. Returns what is wrong.
///
/// Writability is probed by creating and removing a file shaped like a
/// temporary of [`write_atomically`] (so a killed probe is cleaned up like
/// one).
pub fn check_output_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err("exists and is not a directory (--out must name a directory)".into());
        }
        return probe(dir).map_err(|e| format!("is a directory that cannot be written: {e}"));
    }
    let ancestor = dir
        .ancestors()
        .skip(1)
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.exists() || a.symlink_metadata().is_ok())
        .unwrap_or(Path::new("."));
    if !ancestor.is_dir() {
        return Err(format!(
            "cannot be created: {} is not a directory",
            ancestor.display()
        ));
    }
    probe(ancestor).map_err(|e| {
        format!(
            "cannot be created: cannot write into {}: {e}",
            ancestor.display()
        )
    })
}

/// Creates and removes a uniquely named file in `dir`: unique per process
/// and per call, so parallel runs of one process (sweeps, reproduce) can
/// probe the same directory at once.
fn probe(dir: &Path) -> io::Result<()> {
    static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!(".write-probe.tmp-{}-{n}", std::process::id()));
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    fs::remove_file(&path)
}

/// The directory of one run: `<results>/<scenario name>/seed-<seed>/`, or
/// the directory the user gave with `--out`.
pub fn run_dir(results_root: &Path, scenario_name: &str, seed: u64) -> PathBuf {
    results_root
        .join(scenario_name)
        .join(format!("seed-{seed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        write_bytes_atomically(&path, b"one\n").unwrap();
        write_bytes_atomically(&path, b"two\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two\n");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn interrupted_write_keeps_previous_file_and_no_partial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        write_bytes_atomically(&path, b"complete").unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"half of a new fi")?;
            Err(io::Error::other("interrupted"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "interrupted");
        assert_eq!(fs::read(&path).unwrap(), b"complete");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temporary left behind: {names:?}");
    }

    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".rounds.csv.tmp-4242"), b"half").unwrap();
        fs::write(dir.path().join(".hidden"), b"keep").unwrap();
        fs::write(dir.path().join("notes.tmp-1"), b"keep").unwrap();
        write_bytes_atomically(&dir.path().join("rounds.csv"), b"whole").unwrap();
        assert_eq!(remove_stale_temporaries(dir.path()).unwrap(), 1);
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [".hidden", "notes.tmp-1", "rounds.csv"]);
    }

    #[test]
    fn output_dir_checks_create_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, b"x").unwrap();
        assert!(check_output_dir(tmp.path()).is_ok());
        assert!(check_output_dir(&tmp.path().join("a/b/c")).is_ok());
        let e = check_output_dir(&file).unwrap_err();
        assert!(e.contains("not a directory"), "{e}");
        let e = check_output_dir(&file.join("run/deeper")).unwrap_err();
        assert!(e.contains(&file.display().to_string()), "{e}");
        let mut names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["file"]);
    }

    #[test]
    fn run_dir_layout() {
        assert_eq!(
            run_dir(Path::new("results"), "x", 7),
            PathBuf::from("results/x/seed-7")
        );
    }
}
