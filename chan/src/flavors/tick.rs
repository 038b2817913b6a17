//! Periodic timer channel: [`tick`](crate::tick), Go's `time.Ticker`/`time.Tick`.
//!
//! Go's ticker fires at `start + k·period` into a channel of capacity 1 and drops ticks
//! while that slot is full. Here the slot is `pending`, and a timer is armed only while it
//! is empty: when a receiver takes the pending tick it arms the next timer for the first
//! grid point after now, so a slow receiver gets one stale tick at once and then the
//! schedule, exactly as with Go. Arming happens on the receiver's side (a timer callback
//! only records the tick and wakes one receiver; it never creates a timer). Dropping the
//! last receiver cancels the armed timer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use goro::time::Timer;

use crate::context::{Context, Operation};
use crate::err::{RecvTimeoutError, TryRecvError};
use crate::select::{SelectHandle, Token};
use crate::waker::SyncWaker;

/// The tick reserved by a select (`None`: nothing reserved).
pub(crate) type TickToken = Option<Instant>;

struct State {
    /// The buffered tick, if any (Go's capacity-1 channel).
    pending: Option<Instant>,
    /// The grid point the armed (or last) timer was set for.
    last: Instant,
    /// The armed timer, if it has not fired.
    timer: Option<Timer>,
    /// Generation of the most recently armed timer, and of the last one that fired.
    armed_gen: u64,
    fired_gen: u64,
}

pub(crate) struct Channel {
    period: Duration,
    state: Mutex<State>,
    /// `state.pending.is_some()`, readable without the lock (SeqCst: Dekker pair with the
    /// receivers' wait queue).
    has_pending: AtomicBool,
    receivers: SyncWaker,
    me: Weak<Channel>,
}

/// The longest period kept as given; a longer one never ticks either.
const NEVER: Duration = Duration::from_secs(100 * 365 * 86_400);

impl Channel {
    pub(crate) fn new(period: Duration) -> Arc<Channel> {
        assert!(!period.is_zero(), "goro-chan: tick period must be non-zero");
        // A century is "never" (and keeps `Instant` arithmetic from overflowing).
        let period = period.min(NEVER);
        let first = Instant::now() + period;
        let chan = Arc::new_cyclic(|me| Channel {
            period,
            state: Mutex::new(State {
                pending: None,
                last: first,
                timer: None,
                armed_gen: 0,
                fired_gen: 0,
            }),
            has_pending: AtomicBool::new(false),
            receivers: SyncWaker::new(),
            me: me.clone(),
        });
        chan.arm(first);
        chan
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms a timer for grid point `at` (called with the lock *not* held).
    fn arm(&self, at: Instant) {
        let gen = {
            let mut st = self.state();
            st.armed_gen += 1;
            st.last = at;
            st.armed_gen
        };
        let weak = self.me.clone();
        let timer = Timer::at(at, move || {
            if let Some(chan) = weak.upgrade() {
                chan.fire(gen, at);
            }
        });
        let mut st = self.state();
        if st.fired_gen != gen {
            st.timer = Some(timer);
        }
    }

    /// Timer callback: record the tick and wake one receiver. Short, never blocks.
    fn fire(&self, gen: u64, at: Instant) {
        {
            let mut st = self.state();
            st.fired_gen = gen;
            st.timer = None;
            st.pending = Some(at);
        }
        // SeqCst pairs with the SeqCst load in `is_ready` after a receiver registers.
        self.has_pending.store(true, Ordering::SeqCst);
        self.receivers.notify();
    }

    fn is_ready(&self) -> bool {
        // SeqCst: see `fire`.
        self.has_pending.load(Ordering::SeqCst)
    }

    /// Takes the pending tick, if any, and arms the timer for the next grid point.
    fn take(&self) -> Option<Instant> {
        if !self.is_ready() {
            return None;
        }
        let (tick, next) = {
            let mut st = self.state();
            let tick = st.pending.take()?;
            self.has_pending.store(false, Ordering::SeqCst);
            let now = Instant::now();
            let mut next = st.last + self.period;
            if next <= now {
                let behind = (now - next).as_nanos() / self.period.as_nanos() + 1;
                next += self.period * u32::try_from(behind).unwrap_or(u32::MAX);
            }
            (tick, next)
        };
        self.arm(next);
        Some(tick)
    }

    pub(crate) fn try_recv(&self) -> Result<Instant, TryRecvError> {
        self.take().ok_or(TryRecvError::Empty)
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<Instant, RecvTimeoutError> {
        super::recv_timer_value(
            &self.receivers,
            deadline,
            || self.take(),
            || self.is_ready(),
        )
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.is_ready())
    }

    /// Receives a tick reserved by a select.
    pub(crate) fn read_token(&self, token: &mut Token) -> Result<Instant, ()> {
        token.tick.take().ok_or(())
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        // `timer` is `Some` only for a timer that has not fired (the callback clears it,
        // and `arm` does not store a timer whose generation already fired), so this never
        // cancels a timer from inside its own callback.
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = st.timer.take() {
            t.cancel();
        }
    }
}

impl SelectHandle for Channel {
    fn try_select(&self, token: &mut Token) -> bool {
        match self.take() {
            Some(t) => {
                token.tick = Some(t);
                true
            }
            None => false,
        }
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        self.receivers.register(oper, cx);
        self.is_ready()
    }
    fn unregister(&self, oper: Operation, cx: &Context) {
        self.receivers.unregister(oper, cx);
    }
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        self.try_select(token)
    }
    unsafe fn abandon(&self, token: &mut Token) {
        // The reserved instant was taken from the channel: a received value, dropped.
        token.tick = None;
    }
}
