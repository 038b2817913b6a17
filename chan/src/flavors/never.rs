//! A channel that never delivers: [`never`](crate::never), Go's nil channel.
//!
//! Receiving blocks forever (or until the deadline); in a `select` the arm is never
//! chosen, which is how Go code disables a case by setting its channel to nil.

use std::marker::PhantomData;
use std::time::Instant;

use goro::park;

use crate::context::{Context, Operation};
use crate::err::{RecvTimeoutError, TryRecvError};
use crate::select::{SelectHandle, Token};

pub(crate) struct Channel<T> {
    _marker: PhantomData<fn() -> T>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            _marker: PhantomData,
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        Err(TryRecvError::Empty)
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        match deadline {
            Some(d) => {
                goro::time::sleep_until(d);
                Err(RecvTimeoutError::Timeout)
            }
            // Nobody holds our unparker: each return of `park` is spurious.
            None => loop {
                park::park();
            },
        }
    }
}

impl<T> SelectHandle for Channel<T> {
    fn try_select(&self, _token: &mut Token) -> bool {
        false
    }
    fn register(&self, _oper: Operation, _cx: &Context) -> bool {
        false
    }
    fn unregister(&self, _oper: Operation, _cx: &Context) {}
    fn accept(&self, _token: &mut Token, _cx: &Context) -> bool {
        false
    }
    unsafe fn abandon(&self, _token: &mut Token) {
        // Never reserved anything.
    }
}
