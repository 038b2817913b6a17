//! Coroutine stacks (interim: one mmap per stack; the slab allocator replaces this file).
#![allow(dead_code)]
use std::io;

use corosensei::stack::StackPointer;

/// Default usable stack size.
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;
const PAGE: usize = 4096;

/// One coroutine stack with a guard page below it.
pub(crate) struct Stack {
    lo: usize,
    len: usize,
}

// SAFETY: a Stack is plain memory owned by one coroutine at a time.
unsafe impl Send for Stack {}

impl Stack {
    pub(crate) fn new(size: usize) -> io::Result<Stack> {
        let size = size.max(16 * 1024).div_ceil(PAGE) * PAGE;
        let len = size + PAGE;
        // SAFETY: anonymous private mapping; result checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the first page of our own fresh mapping.
        if unsafe { libc::mprotect(p, PAGE, libc::PROT_NONE) } != 0 {
            let e = io::Error::last_os_error();
            // SAFETY: unmapping our own mapping.
            unsafe { libc::munmap(p, len) };
            return Err(e);
        }
        Ok(Stack {
            lo: p as usize,
            len,
        })
    }
    pub(crate) fn size(&self) -> usize {
        self.len - PAGE
    }
    pub(crate) fn guard(&self) -> (usize, usize) {
        (self.lo, self.lo + PAGE)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: our own mapping, no longer used by any coroutine.
        unsafe { libc::munmap(self.lo as *mut _, self.len) };
    }
}

// SAFETY: base/limit describe our own mapping, the guard page included in the limit.
unsafe impl corosensei::stack::Stack for Stack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.lo + self.len).unwrap()
    }
    fn limit(&self) -> StackPointer {
        StackPointer::new(self.lo).unwrap()
    }
}

pub(crate) fn trim() {}

pub(crate) struct StackStats {
    pub slabs: usize,
    pub live: usize,
    pub pooled: usize,
}

pub(crate) fn stats() -> StackStats {
    StackStats {
        slabs: 0,
        live: 0,
        pooled: 0,
    }
}

pub(crate) mod overflow {
    pub(crate) fn install() {}
    pub(crate) fn init_thread() {}
    pub(crate) fn set_current(_guard: (usize, usize), _name: Option<&str>, _id: u64, _size: usize) {
    }
    pub(crate) fn clear_current() {}
}
