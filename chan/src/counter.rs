//! Sender and receiver counts shared by the handles of one channel.
//!
//! The channel disconnects when the last sender or the last receiver is dropped (or on an
//! explicit `close`). Memory is freed by the `Arc` when the last handle of either kind is
//! gone; the counts only decide *when to disconnect*.

use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A channel plus its handle counts.
pub(crate) struct Counter<C> {
    senders: AtomicUsize,
    receivers: AtomicUsize,
    chan: C,
}

impl<C> Counter<C> {
    /// A channel with one sender and one receiver.
    pub(crate) fn new(chan: C) -> Counter<C> {
        Counter {
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            chan,
        }
    }

    pub(crate) fn acquire_sender(&self) {
        // Relaxed: the caller already holds a sender, so the count cannot reach zero
        // concurrently (same argument as `Arc::clone`).
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn acquire_receiver(&self) {
        // Relaxed: as in `acquire_sender`.
        self.receivers.fetch_add(1, Ordering::Relaxed);
    }

    /// True if this was the last sender (the caller then disconnects).
    pub(crate) fn release_sender(&self) -> bool {
        // AcqRel: the last releaser sees every other handle's prior operations before it
        // disconnects (pairs with the other releasers' Release half).
        self.senders.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// True if this was the last receiver.
    pub(crate) fn release_receiver(&self) -> bool {
        // AcqRel: as in `release_sender`.
        self.receivers.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

impl<C> Deref for Counter<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.chan
    }
}
