//! A per-worker timer heap: a 4-ary min-heap with O(log n) cancel through stable slots.
//!
//! Each timer lives in a *slot* (stable index + generation) that records the timer's current
//! position in the heap, so cancelling is a direct removal rather than a tombstone left in the
//! heap (a server that arms and cancels a read deadline per request would otherwise grow the
//! heap without bound). A slot's generation changes every time it is freed, so a stale key
//! (a timer that already fired) never cancels its slot's next occupant.
use crate::park::Unparker;

/// What a timer does when it fires. Runs on the worker's scheduler stack: must not block.
pub(crate) enum Action {
    /// Wake a parked coroutine or thread.
    Unpark(Unparker),
    /// Run a short callback (`Timer::at`).
    Call(Box<dyn FnOnce() + Send>),
}

impl Action {
    pub(crate) fn run(self) {
        match self {
            Action::Unpark(u) => u.unpark(),
            Action::Call(f) => f(),
        }
    }
}

#[derive(Clone, Copy)]
struct Node {
    when: u64,
    slot: u32,
}

struct Slot {
    gen: u32,
    /// Heap index while armed; next free slot (or `NONE`) while free.
    pos: u32,
    action: Option<Action>,
}

const NONE: u32 = u32::MAX;
const ARITY: usize = 4;

/// Min-heap of deadlines (nanoseconds since the runtime's epoch).
pub(crate) struct TimerHeap {
    nodes: Vec<Node>,
    slots: Vec<Slot>,
    free: u32,
}

impl TimerHeap {
    pub(crate) fn new() -> TimerHeap {
        TimerHeap {
            nodes: Vec::new(),
            slots: Vec::new(),
            free: NONE,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The earliest deadline, if any.
    pub(crate) fn next(&self) -> Option<u64> {
        self.nodes.first().map(|n| n.when)
    }

    /// Arms a timer; returns its `(slot, generation)` key.
    pub(crate) fn insert(&mut self, when: u64, action: Action) -> (u32, u32) {
        let slot = if self.free != NONE {
            let s = self.free;
            self.free = self.slots[s as usize].pos;
            s
        } else {
            let s = u32::try_from(self.slots.len()).expect("goro: more than 4 billion timers");
            self.slots.push(Slot {
                gen: 0,
                pos: NONE,
                action: None,
            });
            s
        };
        let pos = self.nodes.len();
        self.nodes.push(Node { when, slot });
        let entry = &mut self.slots[slot as usize];
        entry.action = Some(action);
        entry.pos = pos as u32;
        self.sift_up(pos);
        (slot, self.slots[slot as usize].gen)
    }

    /// Disarms the timer `(slot, gen)`; returns its action if it had not fired yet.
    pub(crate) fn cancel(&mut self, slot: u32, gen: u32) -> Option<Action> {
        let entry = self.slots.get(slot as usize)?;
        if entry.gen != gen || entry.action.is_none() {
            return None;
        }
        let pos = entry.pos as usize;
        Some(self.remove_at(pos))
    }

    /// Removes every timer due at `now` and appends its action to `out`.
    pub(crate) fn pop_expired(&mut self, now: u64, out: &mut Vec<Action>) {
        while let Some(n) = self.nodes.first() {
            if n.when > now {
                break;
            }
            out.push(self.remove_at(0));
        }
    }

    fn remove_at(&mut self, pos: usize) -> Action {
        let node = self.nodes[pos];
        let last = self.nodes.pop().expect("goro: timer heap underflow");
        if pos < self.nodes.len() {
            self.nodes[pos] = last;
            self.slots[last.slot as usize].pos = pos as u32;
            if pos > 0 && last.when < self.nodes[(pos - 1) / ARITY].when {
                self.sift_up(pos);
            } else {
                self.sift_down(pos);
            }
        }
        let entry = &mut self.slots[node.slot as usize];
        let action = entry
            .action
            .take()
            .expect("goro: armed timer without action");
        entry.gen = entry.gen.wrapping_add(1);
        entry.pos = self.free;
        self.free = node.slot;
        action
    }

    fn sift_up(&mut self, mut pos: usize) {
        let node = self.nodes[pos];
        while pos > 0 {
            let parent = (pos - 1) / ARITY;
            if self.nodes[parent].when <= node.when {
                break;
            }
            self.nodes[pos] = self.nodes[parent];
            self.slots[self.nodes[pos].slot as usize].pos = pos as u32;
            pos = parent;
        }
        self.nodes[pos] = node;
        self.slots[node.slot as usize].pos = pos as u32;
    }

    fn sift_down(&mut self, mut pos: usize) {
        let node = self.nodes[pos];
        let len = self.nodes.len();
        loop {
            let first = pos * ARITY + 1;
            if first >= len {
                break;
            }
            let last = (first + ARITY).min(len);
            let mut min = first;
            for c in first + 1..last {
                if self.nodes[c].when < self.nodes[min].when {
                    min = c;
                }
            }
            if self.nodes[min].when >= node.when {
                break;
            }
            self.nodes[pos] = self.nodes[min];
            self.slots[self.nodes[pos].slot as usize].pos = pos as u32;
            pos = min;
        }
        self.nodes[pos] = node;
        self.slots[node.slot as usize].pos = pos as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn counting(hits: &Arc<AtomicUsize>, v: usize) -> Action {
        let hits = hits.clone();
        Action::Call(Box::new(move || {
            hits.fetch_add(v, Ordering::Relaxed);
        }))
    }

    #[test]
    fn pops_in_deadline_order_and_cancels_exactly() {
        let hits = Arc::new(AtomicUsize::new(0));
        let mut h = TimerHeap::new();
        let mut keys = Vec::new();
        // Pseudo-random deadlines.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            keys.push((x % 1_000_000, h.insert(x % 1_000_000, counting(&hits, 1))));
        }
        // Cancel every third timer.
        let mut cancelled = 0;
        for (i, (_, (slot, gen))) in keys.iter().enumerate() {
            if i % 3 == 0 {
                assert!(h.cancel(*slot, *gen).is_some());
                assert!(h.cancel(*slot, *gen).is_none(), "double cancel must fail");
                cancelled += 1;
            }
        }
        assert_eq!(h.len(), 10_000 - cancelled);
        let mut last = 0;
        let mut out = Vec::new();
        while let Some(next) = h.next() {
            assert!(next >= last, "heap order broken");
            last = next;
            h.pop_expired(next, &mut out);
        }
        let fired = out.len();
        out.into_iter().for_each(Action::run);
        assert_eq!(fired, 10_000 - cancelled);
        assert_eq!(hits.load(Ordering::Relaxed), 10_000 - cancelled);
    }

    #[test]
    fn stale_key_does_not_cancel_the_slot_reuser() {
        let hits = Arc::new(AtomicUsize::new(0));
        let mut h = TimerHeap::new();
        let (s1, g1) = h.insert(10, counting(&hits, 1));
        let mut out = Vec::new();
        h.pop_expired(10, &mut out);
        assert_eq!(out.len(), 1);
        let (s2, g2) = h.insert(20, counting(&hits, 1));
        assert_eq!(s1, s2, "slot reused");
        assert!(h.cancel(s1, g1).is_none(), "stale key must not cancel");
        assert!(h.cancel(s2, g2).is_some());
    }
}
