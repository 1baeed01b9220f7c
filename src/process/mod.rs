//! The processes of a namespace, and what happens when one forks, execs,
//! exits or dies.
//!
//! One table in the region lists every process that holds something in the
//! namespace (an undo record, an attachment, a wait record, ...), keyed by
//! pid plus start time ([`ProcRef`]), with a bit per table in which it holds
//! records. Every record a family keeps for a process names it by the same
//! key, claimed in the one CAS that takes the record, so a record never
//! exists without naming its holder.
//!
//! Families plug in through [`Family`]: the tables they keep, what a process
//! gives up when it goes ([`Family::release`]), what a fork child inherits
//! ([`Family::fork`]). [`Namespace`] dispatches the lifecycle to them:
//! - exit: the process releases everything itself ([`Namespace::at_exit`]);
//! - death (SIGKILL, `_exit`): one reaper ([`Namespace::reap`]) releases it
//!   on its behalf, found either by a family that meets one of its records
//!   or by the periodic look over the table ([`Namespace::reap_dead`]);
//! - exec: the new image releases what lived in the old one's memory
//!   ([`Namespace::after_exec`]);
//! - fork: the parent (or, for forks the shim did not see, the child)
//!   registers the child and lets the families copy what it inherits.
//!
//! Crash consistency: an entry is taken and given back by one CAS of its
//! key. Releasing is idempotent in every family (each step is one store or
//! one journal commit), so a reaper killed halfway leaves the entry in
//! place and the next reaper does it all again. A record can outlive its
//! entry only through a race with a fork child's death; it still names a
//! dead process, and whoever meets it releases it.

pub mod inspect;
mod table;

pub use inspect::{Handle, Kind, Object};
pub use table::{lists_in_file, ProcRef, ProcessEntry, ProcessTable};

use crate::error::{Errno, Result};
use crate::platform::{self, Identity};
use crate::region::{Region, TableSpec};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often, at most, the whole table is looked over for dead processes
/// (namespace-wide): sleepers look this often, so a killed process's undo
/// reaches the processes waiting for it within this interval.
pub const REAP_INTERVAL: Duration = Duration::from_millis(250);

/// How hard to look for dead processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// Exited ones (gone or zombies): one system call per process. Enough
    /// to see, right after waitpid, what Linux did at the child's exit.
    Quick,
    /// Also recycled pids, by comparing start times in /proc.
    Thorough,
}

impl Look {
    pub fn dead(self, who: ProcRef) -> bool {
        let id = who.identity();
        match self {
            Look::Quick => platform::exited(id.id),
            Look::Thorough => !id.alive(),
        }
    }
}

/// What a process gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// exec replaced its image: what lived in the old image's memory ends
    /// (attachments, waits); what belongs to the process stays (SEM_UNDO).
    Image,
    /// It exited or died: everything.
    Process,
}

/// An IPC family (or any other keeper of per-process records), as the
/// namespace sees it.
pub trait Family: Sync {
    /// The tables it keeps in the region, for a new namespace.
    fn tables(&self) -> Vec<TableSpec>;
    /// Releases what `who` holds (it is dead, exiting or exec'd: `scope`).
    /// Must be idempotent: a reaper killed halfway runs it again.
    fn release(&self, ns: &Namespace, who: ProcRef, scope: Scope);
    /// `child` was forked from `parent`: it holds what it inherits. Runs
    /// in the parent, or in the child for forks the shim did not see.
    fn fork(&self, _ns: &Namespace, _parent: ProcRef, _child: ProcRef) {}
    /// Fork handlers for the family's process-local state (see
    /// `platform::LocalMutex`): before fork, in the forking thread...
    fn before_fork(&self) {}
    /// ...and after it, in the parent and in the child.
    fn after_fork(&self, _in_child: bool) {}
    /// The objects it holds, for tools (see [`inspect`]); none for a
    /// keeper of per-process records only.
    fn objects(&self, _ns: &Namespace) -> Result<Vec<Object>> {
        Ok(Vec::new())
    }
    /// Removes its object `kind` named `handle` as its own call would
    /// (IPC_RMID, mq_unlink: the same permission checks and errors), for
    /// the calling process; None if `kind` is not its kind.
    fn remove(&self, _ns: &Namespace, _kind: Kind, _handle: &Handle) -> Option<Result<()>> {
        None
    }
}

/// A mapped namespace and the families that use it.
pub struct Namespace {
    pub region: Region,
    families: &'static [&'static dyn Family],
    /// Bit masks of each family's tables in the directory (as in
    /// [`ProcessEntry::holds`]), in the order of `families`.
    masks: Vec<u64>,
}

impl std::ops::Deref for Namespace {
    type Target = Region;
    fn deref(&self) -> &Region {
        &self.region
    }
}

/// The calling process's entry, as registered in this fork generation
/// (generation << 32 | entry index + 1; 0: not registered). One word, so
/// no lock, and a fork child never mistakes its parent's entry for its own.
static REGISTERED: AtomicU64 = AtomicU64::new(0);

impl Namespace {
    /// Maps the namespace at `path`, creating it (with the process table
    /// and every family's tables, and `chunk_count` chunks) if needed.
    pub fn open(path: &std::path::Path, families: &'static [&'static dyn Family], chunk_count: u32) -> Result<Self> {
        Self::map(path, families, Some(chunk_count))
    }

    /// Maps the existing namespace at `path` (ENOENT if there is none; a
    /// file that was never completely created is EIO, as a damaged one).
    pub fn open_existing(path: &std::path::Path, families: &'static [&'static dyn Family]) -> Result<Self> {
        Self::map(path, families, None)
    }

    /// Maps it, creating it with `create`'s chunks unless that is None.
    fn map(path: &std::path::Path, families: &'static [&'static dyn Family], create: Option<u32>) -> Result<Self> {
        let mut specs = vec![table::spec()];
        for family in families {
            specs.extend(family.tables());
        }
        let region = match create {
            Some(chunk_count) => crate::region::open(path, &specs, chunk_count)?,
            None => crate::region::open_existing(path)?,
        };
        // Every table must be there, as this library lays it out (a region
        // made by another version may lack one): then finding one by tag
        // later cannot fail.
        for spec in &specs {
            let found = region.layout().table(spec.tag).map(|(_, t)| t.spec);
            if found.is_none_or(|t| t.stride != spec.stride || t.prefix != spec.prefix) {
                let tag = String::from_utf8_lossy(&spec.tag.to_le_bytes()).into_owned();
                crate::log::diag(|| format!("{}: no table {tag} as this library lays it out", path.display()));
                return Err(Errno::EIO);
            }
        }
        let masks = families
            .iter()
            .map(|f| {
                f.tables()
                    .iter()
                    .filter_map(|spec| region.layout().table(spec.tag).map(|(i, _)| 1u64 << i))
                    .fold(0, |mask, bit| mask | bit)
            })
            .collect();
        Ok(Namespace { region, families, masks })
    }

    fn table(&self) -> Result<ProcessTable<'_>> {
        ProcessTable::of(&self.region)
    }

    /// Every object of every family (see [`inspect`]).
    pub fn objects(&self) -> Result<Vec<Object>> {
        let mut all = Vec::new();
        for family in self.families {
            all.extend(family.objects(self)?);
        }
        Ok(all)
    }

    /// Removes object `kind` named `handle` by its family's rules, as the
    /// calling process (EINVAL if no family has such objects).
    pub fn remove(&self, kind: Kind, handle: &Handle) -> Result<()> {
        self.families.iter().find_map(|f| f.remove(self, kind, handle)).unwrap_or(Err(Errno::EINVAL))
    }

    /// The processes registered in the namespace that are alive.
    pub fn live_processes(&self) -> Result<Vec<ProcRef>> {
        let table = self.table()?;
        Ok(table.registered().into_iter().filter(|&who| !Look::Thorough.dead(who)).collect())
    }

    /// The calling process, registered in the table if it is not yet.
    pub fn me(&self) -> Result<ProcRef> {
        let me = ProcRef::from(platform::process());
        if registered_index().is_some() {
            return Ok(me);
        }
        let table = self.table()?;
        let index = match table.find(me) {
            Some(index) => index,
            None => self.register(&table, me)?,
        };
        NOTED.store(0, Ordering::Relaxed);
        REGISTERED.store(platform::fork_generation() << 32 | (index as u64 + 1), Ordering::Relaxed);
        Ok(me)
    }

    /// Takes an entry for `who`: after reaping the dead if the table is full.
    fn register(&self, table: &ProcessTable, who: ProcRef) -> Result<u32> {
        if let Some(index) = table.claim(who) {
            return Ok(index);
        }
        self.reap_dead(Look::Thorough, true);
        table.claim(who).ok_or(Errno::ENOMEM)
    }

    /// Records that `who` holds something in table `table` (a directory
    /// index), before the record is made, so the reaper knows to look;
    /// registers `who` if it is not yet (a fork child, for its parent).
    pub fn note_holding(&self, who: ProcRef, table: usize) {
        let mine = ProcRef::from(platform::process()) == who;
        let bit = 1u64 << (table % 64);
        if mine && noted() & bit != 0 {
            return;
        }
        let Ok(processes) = self.table() else { return };
        let index = match if mine { registered_index() } else { None } {
            Some(index) => Some(index),
            None => self.register(&processes, who).ok(),
        };
        if let Some(entry) = index.and_then(|i| processes.entry(i)) {
            entry.note(who, table);
            if mine {
                NOTED.fetch_or(bit, Ordering::Relaxed);
            }
        }
    }

    /// Takes a record of `who` (dead, or the caller itself) over, so that
    /// the caller alone gives it back: one CAS of the record's holder word
    /// from `who` to the caller's own key (noted in `table` first). Two
    /// reapers of one dead process cannot both free a record, and so never
    /// free one that a live process has claimed since; a reaper that dies
    /// holding it leaves it to its own reaper.
    pub fn adopt(&self, holder: &AtomicU64, who: ProcRef, table: usize) -> bool {
        let Ok(me) = self.me() else { return false };
        if me == who {
            return holder.load(Ordering::Acquire) == who.0;
        }
        self.note_holding(me, table);
        holder.compare_exchange(who.0, me.0, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    /// Releases everything `who` holds (it is dead) and forgets it.
    pub fn reap(&self, who: ProcRef) {
        let Ok(table) = self.table() else { return };
        let index = table.find(who);
        let holds = index.and_then(|i| table.entry(i)).map_or(u64::MAX, |e| e.holds.load(Ordering::Acquire));
        crate::log::diag(|| format!("process {} is dead; releasing what it held", who.identity().id));
        self.release(who, Scope::Process, holds);
        if let Some(entry) = index.and_then(|i| table.entry(i)) {
            entry.forget(who);
        }
    }

    fn release(&self, who: ProcRef, scope: Scope, holds: u64) {
        for (family, mask) in self.families.iter().zip(&self.masks) {
            if holds & mask != 0 {
                family.release(self, who, scope);
            }
        }
    }

    /// Looks over the table for dead processes and reaps them: at most once
    /// per [`REAP_INTERVAL`] in the namespace, unless `now`. How many.
    pub fn reap_dead(&self, look: Look, now: bool) -> usize {
        let Ok(table) = self.table() else { return 0 };
        if !now && !table.reap_due() {
            return 0;
        }
        let me = ProcRef::from(platform::process());
        let dead: Vec<ProcRef> = table.registered().into_iter().filter(|&who| who != me && look.dead(who)).collect();
        for &who in &dead {
            self.reap(who);
        }
        dead.len()
    }

    /// In the parent after fork, or in a child whose fork the shim did not
    /// see: registers `child` and lets each family copy what it inherits.
    pub fn after_fork(&self, parent: ProcRef, child: ProcRef) {
        let Ok(table) = self.table() else { return };
        // In the child every family looks at what it inherited (the parent
        // may not have registered itself yet: a fork of a fork's child can
        // run before the parent's own fork returns); in the parent, only
        // the families it holds something in.
        let holds = if child == ProcRef::from(platform::process()) {
            u64::MAX
        } else {
            table.find(parent).and_then(|i| table.entry(i)).map_or(0, |e| e.holds.load(Ordering::Acquire))
        };
        if holds == 0 {
            return;
        }
        for (family, mask) in self.families.iter().zip(&self.masks) {
            if holds & mask != 0 {
                family.fork(self, parent, child);
            }
        }
        // A child that died (and was reaped) while we copied is reaped
        // again, so nothing copied for it outlives it.
        if Look::Quick.dead(child) {
            self.reap(child);
        }
    }

    /// At load, in a new image: what the process held in its old image's
    /// memory ends (its pid and start time survive exec).
    pub fn after_exec(&self) {
        let Ok(table) = self.table() else { return };
        let me = ProcRef::from(platform::process());
        if let Some(index) = table.find(me) {
            let holds = table.entry(index).map_or(0, |e| e.holds.load(Ordering::Acquire));
            self.release(me, Scope::Image, holds);
        }
    }

    /// At normal exit: the process releases everything and leaves the table.
    pub fn at_exit(&self) {
        let Some(index) = registered_index() else { return };
        let Ok(table) = self.table() else { return };
        let me = ProcRef::from(platform::process());
        let holds = table.entry(index).map_or(0, |e| e.holds.load(Ordering::Acquire));
        self.release(me, Scope::Process, holds);
        if let Some(entry) = table.entry(index) {
            entry.forget(me);
        }
        REGISTERED.store(0, Ordering::Relaxed);
    }
}

/// The bits of the calling process's entry that it has set (valid while it
/// stays registered in this fork generation): a process that keeps taking
/// records of one kind notes it once.
static NOTED: AtomicU64 = AtomicU64::new(0);

fn noted() -> u64 {
    if registered_index().is_some() {
        NOTED.load(Ordering::Relaxed)
    } else {
        0
    }
}

/// The calling process's entry index, if it registered in this fork generation.
fn registered_index() -> Option<u32> {
    let word = REGISTERED.load(Ordering::Relaxed);
    (word >> 32 == platform::fork_generation() && word as u32 != 0).then(|| word as u32 - 1)
}

impl From<Identity> for ProcRef {
    fn from(id: Identity) -> ProcRef {
        ProcRef(id.key())
    }
}

/// The parent's identity, saved by the fork prepare handler for a child
/// whose fork the shim did not see.
static FORKING: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set while the shim's own fork runs in this thread (its child, whose
    /// only thread is this one, leaves the copying to the parent, which
    /// knows when it is done).
    static OWN_FORK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Fork prepare handler: remembers who the parent is.
pub fn before_fork() {
    FORKING.store(platform::process().key(), Ordering::Relaxed);
}

/// Marks this thread's next fork as the shim's own (see `ffi`'s fork).
pub fn own_fork(on: bool) {
    let _ = OWN_FORK.try_with(|f| f.set(on));
}

/// In the fork child: whether the parent does the copying; if not, the
/// parent's identity, for the child to do it.
pub fn child_must_copy() -> Option<ProcRef> {
    let own = OWN_FORK.try_with(|f| f.replace(false)).unwrap_or(false);
    let parent = FORKING.load(Ordering::Relaxed);
    (!own && parent != 0).then_some(ProcRef(parent))
}
