//! `StartFn`: a spawned coroutine's start closure, stored inside its task when it is small.
//!
//! Every spawn needs to keep the user's closure until the coroutine first runs (stacks are
//! taken lazily, so the closure cannot be moved onto its stack at spawn time). Boxing it costs
//! a `malloc` on the spawning thread and a `free` on the running one, which with glibc is
//! about a fifth of a spawn's instructions. Most closures are a few captured pointers, so
//! `StartFn` keeps closures of up to [`INLINE`] bytes (alignment up to 16) in a buffer inside
//! the task and boxes only larger ones.
use std::mem::{self, MaybeUninit};
use std::ptr;

use crate::coroutine::Body;
use crate::stack::Stack;

/// Closures up to this size are stored inline.
const INLINE: usize = 32;

#[repr(C, align(16))]
struct Buf([MaybeUninit<u8>; INLINE]);

/// A one-shot `FnOnce(Stack) -> Body + Send`, inline when small.
pub(crate) struct StartFn {
    buf: Buf,
    /// Moves the closure out of `buf` and calls it; `None` once called (or never set).
    call: Option<unsafe fn(*mut u8, Stack) -> Body>,
    /// Drops the closure in `buf` without calling it.
    drop: unsafe fn(*mut u8),
}

// SAFETY: `StartFn::new` accepts only `Send` closures, and `buf` holds nothing else.
unsafe impl Send for StartFn {}

/// Calls the closure stored inline at `p`.
///
/// # Safety
///
/// `p` must hold a live `F`, which this moves out (the caller must not use or drop it again).
unsafe fn call_inline<F: FnOnce(Stack) -> Body>(p: *mut u8, stack: Stack) -> Body {
    // SAFETY: by the contract, `p` holds an initialised, suitably aligned `F` that we own.
    let f = unsafe { ptr::read(p.cast::<F>()) };
    f(stack)
}

/// # Safety
///
/// `p` must hold a live `F`, which this drops.
unsafe fn drop_inline<F>(p: *mut u8) {
    // SAFETY: by the contract, `p` holds an initialised `F` that we own.
    unsafe { ptr::drop_in_place(p.cast::<F>()) }
}

impl StartFn {
    pub(crate) fn new<F: FnOnce(Stack) -> Body + Send + 'static>(f: F) -> StartFn {
        if Self::fits::<F>() {
            Self::inline(f)
        } else {
            // Too big: box it and store the box (a thin pointer) inline instead.
            let boxed: Box<F> = Box::new(f);
            Self::inline(move |stack: Stack| boxed(stack))
        }
    }

    const fn fits<F>() -> bool {
        mem::size_of::<F>() <= INLINE && mem::align_of::<F>() <= mem::align_of::<Buf>()
    }

    fn inline<F: FnOnce(Stack) -> Body + Send + 'static>(f: F) -> StartFn {
        assert!(Self::fits::<F>(), "goro: closure does not fit inline");
        let mut buf = Buf([MaybeUninit::uninit(); INLINE]);
        // SAFETY: `buf` is large and aligned enough for `F` (asserted above) and
        // uninitialised; ownership of `f` moves into it.
        unsafe { ptr::write(buf.0.as_mut_ptr().cast::<F>(), f) };
        StartFn {
            buf,
            call: Some(call_inline::<F>),
            drop: drop_inline::<F>,
        }
    }

    /// Runs the closure (once).
    pub(crate) fn call(mut self, stack: Stack) -> Body {
        let call = self.call.take().expect("goro: start closure called twice");
        // SAFETY: `call` was stored together with the closure it moves out of `buf`; taking
        // it first means `Drop` will not drop the moved-out closure again.
        unsafe { call(self.buf.0.as_mut_ptr().cast(), stack) }
    }
}

impl Drop for StartFn {
    fn drop(&mut self) {
        if self.call.is_some() {
            // SAFETY: the closure was never called, so `buf` still holds it.
            unsafe { (self.drop)(self.buf.0.as_mut_ptr().cast()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn uncalled_closures_are_dropped_once_inline_and_boxed() {
        let drops = Arc::new(AtomicUsize::new(0));
        let small = Counted(drops.clone());
        let f = StartFn::new(move |_s: Stack| -> Body {
            let _keep = &small;
            unreachable!()
        });
        drop(f);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let big = (Counted(drops.clone()), [0u64; 32]);
        let f = StartFn::new(move |_s: Stack| -> Body {
            let _keep = &big;
            unreachable!()
        });
        drop(f);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn called_closures_run_once_and_drop_their_captures_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        for big in [false, true] {
            let c = Counted(drops.clone());
            let pad = [7u64; 32];
            let f = if big {
                StartFn::new(move |s: Stack| {
                    let _c = c;
                    assert_eq!(pad[31], 7);
                    Body::with_stack(s, |_y, ()| ())
                })
            } else {
                StartFn::new(move |s: Stack| {
                    let _c = c;
                    Body::with_stack(s, |_y, ()| ())
                })
            };
            let mut body = f.call(Stack::new(16 * 1024).unwrap());
            assert!(body.resume(()).as_return().is_some());
        }
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }
}
