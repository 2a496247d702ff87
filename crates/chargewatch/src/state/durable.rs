//! Pipelined durability of the state store's commits.
//!
//! The writer commits a group with `synchronous=NORMAL`: SQLite writes the group's WAL frames
//! and returns without an fsync. The group's results then wait here until a `fdatasync` of
//! the WAL file that began after the commit has returned; only then does any caller hear
//! back. The syncer thread does the `fdatasync` while the writer already runs the next group,
//! and one `fdatasync` covers every group committed before it began, so a burst of commits
//! costs one disk flush, not one each.
//!
//! Why this is as safe as `synchronous=FULL` for what is acknowledged: a commit's frames are
//! written (in the page cache) before its results reach the syncer, so the flush covers
//! them; WAL recovery keeps every frame up to the last valid commit frame; and in `NORMAL`
//! SQLite syncs the WAL before a checkpoint and the database file after it, so the WAL never
//! restarts over frames that are not yet in a synced database file. What a crash can lose is
//! a commit whose flush had not returned: none of its callers had heard back. Readers on the
//! store's connection may see such a commit up to one flush before it is durable.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

/// Hands a job's result to its caller; `false` when its group was not made durable.
pub(super) type Deliver = Box<dyn FnOnce(bool) + Send>;

/// The WAL file of the state store, for flushing it. Cheap to clone.
#[derive(Clone)]
pub(super) struct Wal(Arc<WalFile>);

struct WalFile {
    file: File,
    /// Flushes that succeeded so far (read by tests).
    flushes: AtomicU64,
}

impl Wal {
    /// Opens `<db>-wal` (SQLite creates it with the connection in WAL mode).
    pub(super) fn open(db: &Path) -> std::io::Result<Wal> {
        let mut name = db.as_os_str().to_owned();
        name.push("-wal");
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(name)?;
        Ok(Wal(Arc::new(WalFile { file, flushes: AtomicU64::new(0) })))
    }

    /// `fdatasync` of the WAL file: every frame written before this call is on disk after it.
    pub(super) fn flush(&self) -> std::io::Result<()> {
        self.0.file.sync_data()?;
        self.0.flushes.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Flushes that succeeded so far.
    #[cfg(test)]
    pub(super) fn flushes(&self) -> u64 {
        self.0.flushes.load(Ordering::Acquire)
    }
}

/// The sending side of the syncer thread; dropping it ends the thread once it has delivered
/// everything sent.
pub(super) struct Syncer {
    committed: Sender<Vec<Deliver>>,
}

impl Syncer {
    pub(super) fn start(wal: Wal) -> std::io::Result<Syncer> {
        let (committed, rx) = channel();
        std::thread::Builder::new().name("state-sync".into()).spawn(move || sync_loop(&wal, &rx))?;
        Ok(Syncer { committed })
    }

    /// Delivers `results` of a committed group once a flush that began after now returned.
    pub(super) fn after_flush(&self, results: Vec<Deliver>) {
        if let Err(unsent) = self.committed.send(results) {
            // The syncer is gone (it only ends when this sender is dropped): nobody can
            // promise durability any more.
            unsent.0.into_iter().for_each(|deliver| deliver(false));
        }
    }
}

fn sync_loop(wal: &Wal, rx: &Receiver<Vec<Deliver>>) {
    while let Ok(first) = rx.recv() {
        let mut waiting = first;
        while let Ok(more) = rx.try_recv() {
            waiting.extend(more);
        }
        let durable = wal.flush().map_err(|e| tracing::error!(error = %e, "state store: WAL flush failed")).is_ok();
        for deliver in waiting {
            deliver(durable);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    /// Results wait for a flush and arrive in order; a stopped syncer delivers what it held.
    #[test]
    fn results_are_delivered_after_a_flush_in_order() {
        let dir = std::env::temp_dir().join(format!("cw-durable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wal = Wal::open(&dir.join("t.db")).unwrap();
        assert!(dir.join("t.db-wal").exists());
        let syncer = Syncer::start(wal).unwrap();
        let (tx, rx) = sync_channel(16);
        for group in 0..3 {
            let results: Vec<Deliver> = (0..2)
                .map(|i| {
                    let tx = tx.clone();
                    Box::new(move |ok| tx.send((group, i, ok)).unwrap()) as Deliver
                })
                .collect();
            syncer.after_flush(results);
        }
        drop(syncer);
        let got: Vec<_> = (0..6).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(got, vec![(0, 0, true), (0, 1, true), (1, 0, true), (1, 1, true), (2, 0, true), (2, 1, true)]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
