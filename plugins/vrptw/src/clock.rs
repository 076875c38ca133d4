//! Where the search gets its time from.
//!
//! The solver runs inside a wasm32-wasip2 component as well as natively, and its tests must
//! check the time budget exactly, so the core never reads the OS clock itself: it asks an
//! injected [`Clock`]. [`MonotonicClock`] wraps `std::time::Instant` (which wasip2 maps to
//! its monotonic clock); [`StepClock`] is a deterministic fake for tests.

use std::cell::Cell;
use std::time::Instant;

pub trait Clock {
    /// Seconds since an arbitrary, fixed origin; never decreases.
    fn now_secs(&self) -> f64;
}

pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now_secs(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }
}

/// A fake clock that advances by `step` seconds every time it is read.
pub struct StepClock {
    now: Cell<f64>,
    step: f64,
    reads: Cell<u64>,
}

impl StepClock {
    pub fn new(step: f64) -> Self {
        Self {
            now: Cell::new(0.0),
            step,
            reads: Cell::new(0),
        }
    }

    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    pub fn peek(&self) -> f64 {
        self.now.get()
    }
}

impl Clock for StepClock {
    fn now_secs(&self) -> f64 {
        let t = self.now.get();
        self.now.set(t + self.step);
        self.reads.set(self.reads.get() + 1);
        t
    }
}
