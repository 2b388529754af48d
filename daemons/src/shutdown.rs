//! Graceful shutdown: every daemon stops on SIGTERM (systemd, containers) or
//! SIGINT (a terminal), finishing the work in hand first.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// A cloneable handle that resolves once shutdown has been asked for.
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// Starts listening for SIGTERM and SIGINT.
    pub fn on_signals() -> std::io::Result<Shutdown> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            let which = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = which, "shutting down");
            let _ = tx.send(true);
        });
        Ok(Shutdown { rx })
    }

    /// Resolves when shutdown has been asked for (or its sender is gone).
    pub async fn requested(&mut self) {
        while !*self.rx.borrow_and_update() {
            if self.rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Whether shutdown has been asked for already.
    pub fn is_requested(&self) -> bool {
        *self.rx.borrow()
    }
}
