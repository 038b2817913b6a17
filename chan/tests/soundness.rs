//! Soundness: abandoned select reservations (issue #16, defects 1 and 2).
//!
//! A `SelectedOperation` dropped without being completed (a `?` or a panic in a `select!`
//! send arm's value, a plain drop, or `mem::forget`) must leave the channel sound and
//! usable. Each test's doc comment names the hazard it guards.
//!
//! Every scenario runs in a child process (this test binary re-executed with
//! `SCENARIO_ENV` naming the test, `--exact <name> --nocapture`): a double free aborts the
//! process, and a hang is killed after `CHILD_LIMIT`; either way the parent fails by the
//! test's name. Values are `Tracked`: each records its drop, so a value dropped twice or
//! never is caught even where the allocator would not notice.

use std::panic::{self, AssertUnwindSafe};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use goro_chan::{bounded, select, unbounded, Receiver, Select, Sender};

/// Names the scenario a child process runs.
const SCENARIO_ENV: &str = "GORO_CHAN_SOUNDNESS_SCENARIO";
/// How long a child may run before it counts as hung.
const CHILD_LIMIT: Duration = Duration::from_secs(20);
/// How long one step inside a scenario may take before it counts as hung.
const STEP_LIMIT: Duration = Duration::from_secs(10);

/// Runs `body` in a child process (or, in the child, runs it) and asserts the child exits
/// successfully within `CHILD_LIMIT`.
fn in_child(name: &str, env: &[(&str, &str)], body: impl FnOnce()) {
    if std::env::var(SCENARIO_ENV).as_deref() == Ok(name) {
        // Panics that a scenario provokes and catches would clutter the output.
        panic::set_hook(Box::new(|info| {
            let msg = info.to_string();
            if !msg.contains("provoked") {
                eprintln!("{msg}");
            }
        }));
        body();
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO_ENV, name)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the child test process");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            assert!(status.success(), "{name}: child process failed: {status}");
            return;
        }
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name}: child process hung (killed after {CHILD_LIMIT:?})");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `f` on a thread and waits at most `STEP_LIMIT` for it: a hang fails by message.
fn bounded_step<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = done_tx.send(f());
    });
    match done_rx.recv_timeout(STEP_LIMIT) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung: {what}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("panicked: {what}"),
    }
}

static CREATED: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// A heap value that counts its drops (one child process per scenario, so the counters
/// are the scenario's own).
struct Tracked(Box<u64>);

impl Tracked {
    fn new(v: u64) -> Tracked {
        CREATED.fetch_add(1, Ordering::SeqCst);
        Tracked(Box::new(v))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

fn live() -> usize {
    CREATED.load(Ordering::SeqCst) - DROPPED.load(Ordering::SeqCst)
}

fn boom() -> Tracked {
    panic!("provoked: a send arm's value panics")
}

fn make_fails() -> Result<Tracked, &'static str> {
    Err("no value")
}

/// A `select!` whose only arm sends on `tx` a value whose expression returns early.
fn send_arm_with_question_mark(tx: &Sender<Tracked>) -> Result<(), &'static str> {
    select! {
        send(tx, make_fails()?) -> r => r.map_err(|_| "disconnected")?,
    }
    Ok(())
}

/// Leaves a moved-out value in slot 0 of a capacity-1 ring, so that dropping that slot
/// again is a double free of a real allocation.
fn array_with_stale_slot() -> (Sender<Tracked>, Receiver<Tracked>) {
    let (tx, rx) = bounded::<Tracked>(1);
    tx.send(Tracked::new(1)).unwrap();
    drop(rx.recv().unwrap());
    (tx, rx)
}

// ----- array flavor -----

/// Hazard: double free. A `?` in an array-flavor send arm's value leaves the reserved
/// slot unwritten; `Channel::drop` must not drop it as a value.
#[test]
fn array_question_mark_in_send_arm_then_channel_drop() {
    in_child(
        "array_question_mark_in_send_arm_then_channel_drop",
        &[],
        || {
            let (tx, rx) = array_with_stale_slot();
            assert_eq!(send_arm_with_question_mark(&tx), Err("no value"));
            drop(tx);
            drop(rx);
            assert_eq!(live(), 0);
            assert_eq!(DROPPED.load(Ordering::SeqCst), 1);
        },
    );
}

/// Hazard: double free. `mem::forget` of a selected array send runs no destructor; the
/// channel's drop must still drop only slots stamped full.
#[test]
fn array_forgotten_send_then_channel_drop() {
    in_child("array_forgotten_send_then_channel_drop", &[], || {
        let (tx, rx) = bounded::<Tracked>(2);
        tx.send(Tracked::new(1)).unwrap();
        drop(rx.recv().unwrap());
        tx.send(Tracked::new(2)).unwrap(); // slot 1 holds a live value
        {
            let mut sel = Select::new();
            sel.send(&tx);
            let op = sel.select(); // reserves slot 0 (holding a moved-out value)
            std::mem::forget(op);
        }
        drop(tx);
        drop(rx);
        assert_eq!(live(), 0, "the live value must be dropped exactly once");
        assert_eq!(DROPPED.load(Ordering::SeqCst), 2);
    });
}

/// Hazard: a reserved slot left behind after a panic in a send arm's value makes later
/// receivers spin forever, and the channel's drop double-free it. After the panic is
/// caught the channel must work: FIFO, no hang, nothing dropped twice.
#[test]
fn array_panic_in_send_value_then_channel_usable() {
    in_child("array_panic_in_send_value_then_channel_usable", &[], || {
        bounded_step("array channel after a panicking send arm", || {
            let (tx, rx) = bounded::<Tracked>(2);
            for round in 0..3u64 {
                let r = panic::catch_unwind(AssertUnwindSafe(|| {
                    select! {
                        send(tx, boom()) -> _r => {},
                    }
                }));
                assert!(r.is_err());
                tx.send(Tracked::new(10 * round + 1)).unwrap();
                tx.send(Tracked::new(10 * round + 2)).unwrap();
                assert!(tx.is_full());
                assert_eq!(*rx.recv().unwrap().0, 10 * round + 1);
                assert_eq!(rx.len(), 1);
                assert_eq!(*rx.recv().unwrap().0, 10 * round + 2);
                assert!(rx.try_recv().is_err());
                assert!(rx.is_empty());
            }
            // And with a value ahead of the abandoned slot.
            tx.send(Tracked::new(100)).unwrap();
            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                select! {
                    send(tx, boom()) -> _r => {},
                }
            }));
            assert!(r.is_err());
            assert_eq!(*rx.recv().unwrap().0, 100);
            tx.send(Tracked::new(101)).unwrap();
            tx.send(Tracked::new(102)).unwrap();
            assert_eq!(*rx.recv().unwrap().0, 101);
            tx.send(Tracked::new(103)).unwrap();
            drop(tx);
            let rest: Vec<u64> = rx.iter().map(|t| *t.0).collect();
            assert_eq!(rest, [102, 103]);
        });
        assert_eq!(live(), 0);
    });
}

/// Hazard: an abandoned receive reservation leaves its slot stamped full forever, so
/// later senders spin (hang) and the value leaks. The value must be dropped once and
/// later sends must complete.
#[test]
fn array_abandoned_recv_then_senders_complete() {
    in_child("array_abandoned_recv_then_senders_complete", &[], || {
        bounded_step("send after an abandoned receive", || {
            let (tx, rx) = bounded::<Tracked>(1);
            tx.send(Tracked::new(1)).unwrap();
            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                let mut sel = Select::new();
                sel.recv(&rx);
                let _op = sel.select();
                panic!("provoked: after selecting a receive");
            }));
            assert!(r.is_err());
            for v in 2..6u64 {
                tx.send(Tracked::new(v)).unwrap();
                assert_eq!(*rx.recv().unwrap().0, v);
            }
            assert_eq!(live(), 0, "the abandoned receive's value is dropped");
        });
        assert_eq!(live(), 0);
    });
}

/// Hazard (defect 2): `thread::panicking()` is per OS thread. While coroutine A is
/// parked inside a destructor during its unwinding, coroutine B on the same worker drops
/// an uncompleted send (a `?` in its value): the old guard saw "panicking", skipped its
/// check, and B's channel drop double-freed the slot.
#[test]
fn coroutine_abandon_while_another_coroutine_unwinds() {
    in_child(
        "coroutine_abandon_while_another_coroutine_unwinds",
        &[("GORO_MAXPROCS", "1"), ("RUST_BACKTRACE", "0")],
        || {
            struct ParkOnDrop {
                parked: Sender<()>,
                gate: Receiver<()>,
            }
            impl Drop for ParkOnDrop {
                fn drop(&mut self) {
                    // Parks the coroutine in the middle of its unwinding.
                    self.parked.send(()).unwrap();
                    let _ = self.gate.recv();
                }
            }
            let (parked_tx, parked_rx) = bounded::<()>(1);
            let (gate_tx, gate_rx) = bounded::<()>(1);
            let a = goro::go!(move || {
                let _guard = ParkOnDrop {
                    parked: parked_tx,
                    gate: gate_rx,
                };
                panic!("provoked: coroutine A unwinds");
            });
            parked_rx
                .recv_timeout(STEP_LIMIT)
                .expect("A parks while unwinding");
            let (done_tx, done_rx) = bounded::<Result<(), &'static str>>(1);
            goro::go!(move || {
                let (tx, rx) = array_with_stale_slot();
                let r = send_arm_with_question_mark(&tx);
                drop(tx);
                drop(rx);
                done_tx.send(r).unwrap();
            });
            assert_eq!(
                done_rx.recv_timeout(STEP_LIMIT).expect("B finishes"),
                Err("no value")
            );
            gate_tx.send(()).unwrap();
            assert!(a.join().is_err(), "A's panic is its join result");
            assert_eq!(live(), 0);
            assert_eq!(DROPPED.load(Ordering::SeqCst), 1);
        },
    );
}

// ----- list flavor -----

/// Hazard: an abandoned list receive left its claimed value in the queue, so the front
/// could never be trimmed again (the queue grows without bound) and the value lived until
/// the channel dropped. It must be dropped at once and the channel stay FIFO.
#[test]
fn list_abandoned_recv_releases_value() {
    in_child("list_abandoned_recv_releases_value", &[], || {
        bounded_step("list channel after an abandoned receive", || {
            let (tx, rx) = unbounded::<Tracked>();
            tx.send(Tracked::new(1)).unwrap();
            tx.send(Tracked::new(2)).unwrap();
            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                let mut sel = Select::new();
                sel.recv(&rx);
                let _op = sel.select();
                panic!("provoked: after selecting a receive");
            }));
            assert!(r.is_err());
            assert_eq!(live(), 1, "the abandoned value is dropped at once");
            assert_eq!(rx.len(), 1);
            assert_eq!(*rx.recv().unwrap().0, 2);
            tx.send(Tracked::new(3)).unwrap();
            assert_eq!(*rx.recv().unwrap().0, 3);
        });
        assert_eq!(live(), 0);
    });
}

/// Hazard: a `?` in an unbounded channel's send arm turned into a panic (the old drop
/// panicked for any uncompleted operation). It must propagate the error, and the channel
/// keep working.
#[test]
fn list_question_mark_in_send_arm_propagates() {
    in_child("list_question_mark_in_send_arm_propagates", &[], || {
        let (tx, rx) = unbounded::<Tracked>();
        assert_eq!(send_arm_with_question_mark(&tx), Err("no value"));
        tx.send(Tracked::new(1)).unwrap();
        assert_eq!(*rx.recv().unwrap().0, 1);
        drop((tx, rx));
        assert_eq!(live(), 0);
    });
}

// ----- zero flavor -----

/// Hazard: a receiver blocked on a rendezvous is claimed by a select's send arm whose
/// value returns early; the receiver waited forever for a value that never came. It must
/// be released, wait again, and get the next send.
#[test]
fn zero_abandoned_send_releases_blocked_receiver() {
    in_child("zero_abandoned_send_releases_blocked_receiver", &[], || {
        let (tx, rx) = bounded::<Tracked>(0);
        let (got_tx, got_rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = got_tx.send(rx.recv().map(|t| *t.0));
        });
        // The send arm is ready only once the receiver waits.
        let tx = bounded_step("abandon a send claimed by a receiver", move || {
            assert_eq!(send_arm_with_question_mark(&tx), Err("no value"));
            tx
        });
        bounded_step("send after the abandoned one", move || {
            tx.send(Tracked::new(7)).unwrap();
        });
        assert_eq!(
            got_rx.recv_timeout(STEP_LIMIT).expect("receiver released"),
            Ok(7)
        );
        assert_eq!(live(), 0);
    });
}

/// Hazard: a select's send arm, parked, is claimed by a receiver; the value then returns
/// early. The claiming receiver waited forever on the select's heap packet. It must be
/// released (and the packet freed once), then receive the next send.
#[test]
fn zero_abandoned_select_send_after_receiver_claimed_it() {
    in_child(
        "zero_abandoned_select_send_after_receiver_claimed_it",
        &[],
        || {
            let (tx, rx) = bounded::<Tracked>(0);
            let (got_tx, got_rx) = mpsc::channel();
            let sender = thread::spawn(move || {
                // Parks in the select (nobody receives yet), is claimed by the receiver
                // below, then its value returns early.
                let r = send_arm_with_question_mark(&tx);
                tx.send(Tracked::new(8)).unwrap();
                r
            });
            thread::sleep(Duration::from_millis(100));
            thread::spawn(move || {
                let _ = got_tx.send(rx.recv().map(|t| *t.0));
            });
            assert_eq!(
                got_rx.recv_timeout(STEP_LIMIT).expect("receiver released"),
                Ok(8)
            );
            assert_eq!(sender.join().unwrap(), Err("no value"));
            assert_eq!(live(), 0);
        },
    );
}

/// Hazard: a select chooses to receive from a sender blocked on a rendezvous, then is
/// abandoned (a panic); the sender waited forever. It must get its value back and
/// deliver it to the next receiver.
#[test]
fn zero_abandoned_recv_returns_value_to_blocked_sender() {
    in_child(
        "zero_abandoned_recv_returns_value_to_blocked_sender",
        &[],
        || {
            let (tx, rx) = bounded::<Tracked>(0);
            let sender = thread::spawn(move || tx.send(Tracked::new(9)).is_ok());
            let rx = bounded_step(
                "abandon a receive claimed from a blocked sender",
                move || {
                    let r = panic::catch_unwind(AssertUnwindSafe(|| {
                        let mut sel = Select::new();
                        sel.recv(&rx);
                        let _op = sel.select();
                        panic!("provoked: after selecting a receive");
                    }));
                    assert!(r.is_err());
                    rx
                },
            );
            assert_eq!(live(), 1, "the sender still owns its value");
            let v = bounded_step("receive the value the sender kept", move || {
                *rx.recv().unwrap().0
            });
            assert_eq!(v, 9);
            assert!(sender.join().unwrap());
            assert_eq!(live(), 0);
        },
    );
}

/// Hazard: a select's receive arm, parked, is claimed by a send that writes into the
/// select's heap packet; the select is then abandoned. The packet and its value leaked;
/// they must be freed (the value dropped once), and the channel keep working.
#[test]
fn zero_abandoned_select_recv_after_sender_claimed_it() {
    in_child(
        "zero_abandoned_select_recv_after_sender_claimed_it",
        &[],
        || {
            let (tx, rx) = bounded::<Tracked>(0);
            let (chosen_tx, chosen_rx) = mpsc::channel();
            let receiver = thread::spawn(move || {
                let r = panic::catch_unwind(AssertUnwindSafe(|| {
                    let mut sel = Select::new();
                    sel.recv(&rx);
                    let _op = sel.select();
                    chosen_tx.send(()).unwrap();
                    panic!("provoked: after selecting a receive");
                }));
                assert!(r.is_err());
                // Usually the select parked first and was handed value 1, now dropped. If
                // the send came first, the select took it from the blocked sender and gave
                // it back, and it arrives here before 2.
                loop {
                    match rx.recv().map(|t| *t.0) {
                        Ok(1) => continue,
                        other => break other,
                    }
                }
            });
            thread::sleep(Duration::from_millis(100));
            let tx = bounded_step("send into a parked select", move || {
                tx.send(Tracked::new(1)).unwrap();
                tx
            });
            chosen_rx.recv_timeout(STEP_LIMIT).expect("select chose");
            bounded_step("send after the abandoned receive", move || {
                tx.send(Tracked::new(2)).unwrap();
            });
            assert_eq!(receiver.join().unwrap(), Ok(2));
            assert_eq!(live(), 0, "the abandoned value is dropped once");
            assert_eq!(DROPPED.load(Ordering::SeqCst), 2);
        },
    );
}

/// Hazard: the skipped-slot protocol itself (abandoned sends racing with sends,
/// receives and other abandons on a small ring). Every value sent arrives exactly once,
/// none is dropped twice, nobody hangs.
#[test]
fn array_abandon_stress() {
    in_child("array_abandon_stress", &[], || {
        const SENDERS: u64 = 2;
        const PER_SENDER: u64 = 5_000;
        bounded_step("array abandon stress", || {
            let (tx, rx) = bounded::<Tracked>(3);
            let senders: Vec<_> = (0..SENDERS)
                .map(|s| {
                    let tx = tx.clone();
                    thread::spawn(move || {
                        let mut sent = 0;
                        let mut i = 0u64;
                        while sent < PER_SENDER {
                            i += 1;
                            let abandon = i.is_multiple_of(3);
                            let r: Result<(), &'static str> = (|| {
                                select! {
                                    send(tx, if abandon {
                                        make_fails()?
                                    } else {
                                        Tracked::new(s * PER_SENDER + sent)
                                    }) -> r => r.map_err(|_| "disconnected")?,
                                }
                                Ok(())
                            })();
                            if r.is_ok() {
                                sent += 1;
                            }
                        }
                    })
                })
                .collect();
            drop(tx);
            let receivers: Vec<_> = (0..2)
                .map(|k| {
                    let rx = rx.clone();
                    thread::spawn(move || {
                        let mut got = Vec::new();
                        let mut i = 0u32;
                        loop {
                            i += 1;
                            // Some receives go through a select, some are abandoned.
                            if k == 1 && i.is_multiple_of(50) {
                                let mut sel = Select::new();
                                sel.recv(&rx);
                                let op = sel.select();
                                drop(op); // a value (or the disconnection) thrown away
                                continue;
                            }
                            match rx.recv() {
                                Ok(t) => got.push(*t.0),
                                Err(_) => return got,
                            }
                        }
                    })
                })
                .collect();
            drop(rx);
            for s in senders {
                s.join().unwrap();
            }
            let mut got: Vec<u64> = receivers
                .into_iter()
                .flat_map(|r| r.join().unwrap())
                .collect();
            got.sort_unstable();
            let received = got.len();
            got.dedup();
            assert_eq!(got.len(), received, "a value arrived twice");
            // Abandoned receives threw some values away (dropped, counted by `live`).
            assert!(received as u64 <= SENDERS * PER_SENDER);
            assert_eq!(CREATED.load(Ordering::SeqCst) as u64, SENDERS * PER_SENDER);
        });
        assert_eq!(live(), 0);
    });
}
