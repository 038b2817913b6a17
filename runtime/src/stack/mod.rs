//! Coroutine stacks (placeholder; replaced by the slab allocator).
#![allow(dead_code)]
