//! `ipcshim namespaces`: the namespaces of a directory (one region file
//! each, `ipcshim-<uid>-<name>.region`), and `namespaces rm`.

use crate::cli::{NamespacesAction, NamespacesArgs, Place};
use crate::Failure;
use ipcshim::error::Errno;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub fn namespaces(args: &NamespacesArgs) -> Result<u8, Failure> {
    match &args.action {
        None => list(&crate::place::dir_of(args.dir.as_deref())),
        Some(NamespacesAction::Rm { name, force }) => {
            let place = Place { namespace: Some(name.clone()), dir: args.dir.clone() };
            remove(&place, *force)
        }
    }
}

/// What could be read of one namespace.
struct Row {
    name: String,
    uid: u32,
    size: u64,
    /// Objects and live processes, or why they are unknown.
    inside: Result<(usize, usize), &'static str>,
    file: String,
}

fn list(dir: &Path) -> Result<u8, Failure> {
    let entries = std::fs::read_dir(dir).map_err(|e| Failure::new(format!("{}: {e}", dir.display())))?;
    let mut rows = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some((_, name)) = ipcshim::ffi::namespace_of_file(&file) else { continue };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else { continue };
        let inside = ipcshim::ffi::open_existing(&entry.path())
            .and_then(|ns| Ok((ns.objects()?.len(), ns.live_processes()?.len())))
            .map_err(|e| match e {
                Errno::EACCES => "not yours",
                Errno::EIO => "damaged",
                _ => "unreadable",
            });
        rows.push(Row { name: name.to_owned(), uid: meta.uid(), size: meta.size(), inside, file });
    }
    rows.sort_by(|a, b| (a.uid, &a.name).cmp(&(b.uid, &b.name)));
    println!("{:<20} {:<8} {:<8} {:>8} {:>10}  FILE", "NAMESPACE", "UID", "SIZE", "OBJECTS", "PROCESSES");
    for row in rows {
        let (objects, processes) = match row.inside {
            Ok((objects, processes)) => (objects.to_string(), processes.to_string()),
            Err(why) => (why.to_owned(), "-".to_owned()),
        };
        println!(
            "{:<20} {:<8} {:<8} {objects:>8} {processes:>10}  {}",
            row.name,
            row.uid,
            crate::names::human(row.size),
            row.file
        );
    }
    Ok(0)
}

/// Removes the caller's namespace: its region file and its POSIX queue
/// anchors. Refused while live processes use it, unless `force`.
fn remove(place: &Place, force: bool) -> Result<u8, Failure> {
    let target = crate::place::resolve(place)?;
    match crate::place::open(&target) {
        Ok(ns) => {
            let live = ns.live_processes().map_err(|e| Failure::new(format!("{}: {e:?}", target.path.display())))?;
            if !live.is_empty() && !force {
                let pids: Vec<String> = live.iter().map(|p| p.pid().to_string()).collect();
                return Err(Failure::new(format!(
                    "namespace {:?} is in use by {} live process(es) (pid {}); --force removes it anyway",
                    target.name,
                    live.len(),
                    pids.join(", ")
                )));
            }
        }
        // A damaged file cannot tell who uses it: only with --force.
        Err(failure) if force && target.path.is_file() && owned(&target.path) => drop(failure),
        Err(failure) => return Err(failure),
    }
    std::fs::remove_file(&target.path).map_err(|e| Failure::new(format!("{}: {e}", target.path.display())))?;
    remove_anchors(&target.path);
    Ok(0)
}

fn owned(path: &Path) -> bool {
    // SAFETY: geteuid has no preconditions.
    std::fs::symlink_metadata(path).is_ok_and(|m| m.uid() == unsafe { libc::geteuid() })
}

/// The POSIX queues' anchors beside the region file (processes that have
/// the namespace mapped keep their descriptors of them).
fn remove_anchors(region: &Path) {
    let (Some(dir), Some(file)) = (region.parent(), region.file_name()) else { return };
    let prefix = format!("{}{}", file.to_string_lossy(), ipcshim::mq::ANCHOR_INFIX);
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
