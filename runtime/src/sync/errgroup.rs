//! `ErrGroup`: coroutines working on one task, the first error cancels the rest (Go's
//! `golang.org/x/sync/errgroup`).
//!
//! A [`WaitGroup`] counts the coroutines, a std lock keeps the first failure, and the group
//! owns the [`CancelFn`] of the context it derived, so the first failure (or `wait`) cancels
//! that context. An optional [`Semaphore`] bounds how many run at once ([`ErrGroup::set_limit`]).
//! A panic in one of the group's coroutines is caught, cancels the context like an error,
//! and is resumed by `wait`, as the current errgroup does, rather than lost with a detached
//! coroutine.
use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};

use super::{Semaphore, WaitGroup};
use crate::context::{self, CancelFn, Context};

/// A group of coroutines working on parts of one task (Go's `errgroup.Group`): [`go`] starts
/// one, [`wait`] waits for all and returns the first error. Made by
/// [`with_context`](ErrGroup::with_context), the first error also cancels the group's
/// context, so the others can stop early.
///
/// Cheap to clone (an `Arc`): clones are the same group, so a member may start more members.
/// Dropping the last clone (and every member finishing) cancels the group's context.
///
/// [`go`]: ErrGroup::go
/// [`wait`]: ErrGroup::wait
///
/// ```
/// use goro::context;
/// use goro::sync::ErrGroup;
/// use std::time::Duration;
///
/// let (group, ctx) = ErrGroup::with_context(&context::background());
/// for i in 0..10u64 {
///     let ctx = ctx.clone();
///     group.go(move || {
///         if i == 3 {
///             return Err(format!("part {i} failed"));
///         }
///         // The others stop early: the failure canceled `ctx`.
///         ctx.wait_timeout(Duration::from_secs(10));
///         Ok(())
///     });
/// }
/// assert_eq!(group.wait(), Err("part 3 failed".to_string()));
/// assert!(ctx.is_done());
/// ```
pub struct ErrGroup<E> {
    shared: Arc<Shared<E>>,
}

struct Shared<E> {
    running: WaitGroup,
    failure: StdMutex<Failure<E>>,
    /// Canceled on the first failure and by `wait`; `None` for [`ErrGroup::new`].
    cancel: Option<CancelFn>,
    /// The bound of [`ErrGroup::set_limit`]; each member holds one permit while it runs.
    limit: StdMutex<Option<Arc<Semaphore>>>,
}

struct Failure<E> {
    err: Option<E>,
    panic: Option<Box<dyn Any + Send>>,
}

fn lock<T>(m: &StdMutex<T>) -> StdMutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<E: Send + 'static> ErrGroup<E> {
    /// A group without a context (Go's zero `errgroup.Group`): the first error is kept for
    /// [`wait`](ErrGroup::wait), nothing is canceled.
    ///
    /// ```
    /// let group = goro::sync::ErrGroup::<std::io::Error>::new();
    /// group.go(|| Ok(()));
    /// assert!(group.wait().is_ok());
    /// ```
    pub fn new() -> ErrGroup<E> {
        ErrGroup::make(None)
    }

    /// A group and a child of `parent` that is canceled when a member first fails (returns
    /// `Err` or panics) or when [`wait`](ErrGroup::wait) returns, whichever is first (Go's
    /// `errgroup.WithContext`).
    ///
    /// ```
    /// use goro::context;
    /// let (group, ctx) = goro::sync::ErrGroup::<()>::with_context(&context::background());
    /// group.go(|| Err(()));
    /// ctx.wait(); // canceled by the failure
    /// assert_eq!(group.wait(), Err(()));
    /// ```
    pub fn with_context(parent: &Context) -> (ErrGroup<E>, Context) {
        let (ctx, cancel) = context::with_cancel(parent);
        (ErrGroup::make(Some(cancel)), ctx)
    }

    fn make(cancel: Option<CancelFn>) -> ErrGroup<E> {
        ErrGroup {
            shared: Arc::new(Shared {
                running: WaitGroup::new(),
                failure: StdMutex::new(Failure {
                    err: None,
                    panic: None,
                }),
                cancel,
                limit: StdMutex::new(None),
            }),
        }
    }

    /// Runs `f` on a new coroutine as a member of the group (Go's `g.Go(f)`). With a limit
    /// set, first parks the caller until fewer than the limit are running.
    ///
    /// ```
    /// let group = goro::sync::ErrGroup::new();
    /// for i in 0..100 {
    ///     group.go(move || if i < 100 { Ok(()) } else { Err(i) });
    /// }
    /// assert_eq!(group.wait(), Ok(()));
    /// ```
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let limit = lock(&self.shared.limit).clone();
        if let Some(sem) = &limit {
            sem.acquire().forget(); // given back by `start` when `f` returns
        }
        self.start(limit, f);
    }

    /// Like [`go`](ErrGroup::go), but with a limit set and reached, returns false at once
    /// instead of waiting (Go's `g.TryGo(f)`).
    ///
    /// ```
    /// use goro::context;
    ///
    /// let group = goro::sync::ErrGroup::<()>::new();
    /// group.set_limit(Some(1));
    /// let (release, cancel) = context::with_cancel(&context::background());
    /// assert!(group.try_go(move || Ok(release.wait())));
    /// assert!(!group.try_go(|| Ok(()))); // the one slot is busy
    /// drop(cancel);
    /// group.wait().unwrap();
    /// ```
    pub fn try_go<F>(&self, f: F) -> bool
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let limit = lock(&self.shared.limit).clone();
        if let Some(sem) = &limit {
            match sem.try_acquire() {
                Some(p) => p.forget(),
                None => return false,
            }
        }
        self.start(limit, f);
        true
    }

    fn start<F>(&self, permit: Option<Arc<Semaphore>>, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        self.shared.running.add(1);
        let shared = Arc::clone(&self.shared);
        drop(crate::spawn(move || {
            match panic::catch_unwind(AssertUnwindSafe(f)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => shared.fail(Some(e), None),
                Err(p) => shared.fail(None, Some(p)),
            }
            if let Some(sem) = permit {
                sem.add_permits(1);
            }
            shared.running.done();
        }));
    }

    /// Parks until every member has returned, cancels the group's context, and returns the
    /// first error (Go's `g.Wait()`). The error is handed out once: a second `wait` (after
    /// more `go`s) reports only failures since.
    ///
    /// # Panics
    ///
    /// Resumes the first panic of a member, if one panicked.
    ///
    /// ```
    /// let group = goro::sync::ErrGroup::new();
    /// group.go(|| Err("first"));
    /// assert_eq!(group.wait(), Err("first"));
    /// assert_eq!(group.wait(), Ok(()));
    /// ```
    pub fn wait(&self) -> Result<(), E> {
        self.shared.running.wait();
        if let Some(c) = &self.shared.cancel {
            c.cancel();
        }
        let mut failure = lock(&self.shared.failure);
        if let Some(p) = failure.panic.take() {
            drop(failure);
            panic::resume_unwind(p);
        }
        match failure.err.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Bounds how many members run at once (`Some(n)`) or lifts the bound (`None`); Go's
    /// `g.SetLimit(n)`. With `Some(0)`, [`go`](ErrGroup::go) waits forever.
    ///
    /// # Panics
    ///
    /// If members are running: the limit can change only between rounds, as in Go.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    /// use std::sync::Arc;
    ///
    /// let group = goro::sync::ErrGroup::<()>::new();
    /// group.set_limit(Some(2));
    /// let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    /// for _ in 0..20 {
    ///     let (now, max) = (now.clone(), max.clone());
    ///     group.go(move || {
    ///         max.fetch_max(now.fetch_add(1, SeqCst) + 1, SeqCst);
    ///         goro::time::sleep(std::time::Duration::from_millis(1));
    ///         now.fetch_sub(1, SeqCst);
    ///         Ok(())
    ///     });
    /// }
    /// group.wait().unwrap();
    /// assert!(max.load(SeqCst) <= 2);
    /// ```
    pub fn set_limit(&self, limit: Option<usize>) {
        let mut l = lock(&self.shared.limit);
        let active = self.shared.running.count();
        if active != 0 {
            drop(l);
            panic!("goro::sync::ErrGroup: set_limit while {active} members are still running");
        }
        *l = limit.map(|n| Arc::new(Semaphore::new(n)));
    }
}

impl<E> Shared<E> {
    /// Records a member's failure (only the first error and the first panic are kept) and
    /// cancels the context.
    fn fail(&self, err: Option<E>, panic: Option<Box<dyn Any + Send>>) {
        let mut f = lock(&self.failure);
        let (late_err, late_panic) = (
            if f.err.is_none() {
                f.err = err;
                None
            } else {
                err
            },
            if f.panic.is_none() {
                f.panic = panic;
                None
            } else {
                panic
            },
        );
        drop(f);
        // Dropped outside the lock: a user type's Drop may do anything.
        drop((late_err, late_panic));
        if let Some(c) = &self.cancel {
            c.cancel();
        }
    }
}

impl<E> Clone for ErrGroup<E> {
    fn clone(&self) -> ErrGroup<E> {
        ErrGroup {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<E: Send + 'static> Default for ErrGroup<E> {
    fn default() -> ErrGroup<E> {
        ErrGroup::new()
    }
}

impl<E> fmt::Debug for ErrGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrGroup")
            .field("running", &self.shared.running.count())
            .finish_non_exhaustive()
    }
}
