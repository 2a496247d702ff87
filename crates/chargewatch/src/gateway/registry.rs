//! Which stations are connected here, and the queue of central-system calls to each.

use chargewatch_ocpp::Action;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The answer of a central-system-initiated call.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandOutcome {
    Result(Value),
    Error { code: String, description: String, details: Value },
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum CommandError {
    #[error("station is not connected")]
    NotConnected,
    #[error("station's command queue is full")]
    QueueFull,
    #[error("station did not answer in time")]
    Timeout,
    #[error("station disconnected before answering")]
    Disconnected,
}

pub(crate) struct Command {
    pub action: Action,
    pub payload: Value,
    pub reply: oneshot::Sender<Result<CommandOutcome, CommandError>>,
}

struct Entry {
    conn_id: u64,
    commands: mpsc::Sender<Command>,
    replaced: CancellationToken,
}

/// Connected stations of this process. Cheap to clone.
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
    next_id: Arc<AtomicU64>,
}

pub(crate) struct Registration {
    pub conn_id: u64,
    pub commands: mpsc::Receiver<Command>,
    /// Cancelled when a new connection of the station replaces this one, or at shutdown.
    pub replaced: CancellationToken,
}

impl Registry {
    /// Registers a new connection for `station_id`, replacing (and cancelling) any earlier one.
    /// Its token is a child of `shutdown`: one token tells the connection to end, for either
    /// reason.
    pub(crate) fn register(&self, station_id: &str, queue: usize, shutdown: &CancellationToken) -> Registration {
        let conn_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(queue.max(1));
        let replaced = shutdown.child_token();
        let entry = Entry { conn_id, commands: tx, replaced: replaced.clone() };
        let old = self.lock().insert(station_id.to_string(), entry);
        if let Some(old) = old {
            old.replaced.cancel();
        }
        Registration { conn_id, commands: rx, replaced }
    }

    /// Removes the entry if it still belongs to connection `conn_id`.
    pub(crate) fn unregister(&self, station_id: &str, conn_id: u64) {
        let mut map = self.lock();
        if map.get(station_id).is_some_and(|e| e.conn_id == conn_id) {
            map.remove(station_id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_connected(&self, station_id: &str) -> bool {
        self.lock().contains_key(station_id)
    }

    pub fn connected(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Sends a central-system-initiated CALL and waits for its answer. Calls to one
    /// station queue up and go out one at a time (OCPP-J: one outstanding CALL).
    pub async fn call(&self, station_id: &str, action: Action, payload: Value) -> Result<CommandOutcome, CommandError> {
        let sender = self.lock().get(station_id).map(|e| e.commands.clone()).ok_or(CommandError::NotConnected)?;
        let (reply, rx) = oneshot::channel();
        sender.try_send(Command { action, payload, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => CommandError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => CommandError::NotConnected,
        })?;
        rx.await.unwrap_or(Err(CommandError::Disconnected))
    }
}
