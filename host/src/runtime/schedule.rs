//! Where a module call runs, and how many run per tenant.
//!
//! Every call counts against its tenant's share of calls in flight (429 `tenant_busy` past
//! it), so one tenant cannot take every instance slot and executor turn.
//!
//! A *long* call, one whose deadline is above the ordinary one (a built-in whose manifest asks
//! for more, like a routing solve with a 30 s budget), also counts against the tenant's share
//! of long calls and runs on a pool of threads of its own, at a lower OS priority (nice
//! [`LONG_CALL_NICE`]), not on the tokio workers that serve every other request. A module
//! yields at every epoch tick, so sharing the workers would be fair per task, but with a few
//! CPU-bound solves among them each short request waits behind several 10 ms slices: measured,
//! another tenant's p99 went from 2 ms to over a second. On threads of their own, the kernel
//! gives the workers the CPU first and the solves what is left, and they still get all of it
//! when the server is otherwise idle. The call's store and events go on working from there:
//! its transaction's connection is an I/O object of the main runtime, which any thread may poll.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::tenancy::share::{SharePermit, TenantShare};

/// The nice value of the long-call threads: under Linux's scheduler a nice-10 thread weighs
/// about a tenth of a nice-0 one, so the request workers get about 90 % of a contended core.
pub const LONG_CALL_NICE: i32 = 10;

/// How many calls each tenant may have in flight, and what counts as long.
#[derive(Debug, Clone)]
pub struct CallShares {
    /// Module calls in flight per tenant.
    pub calls_per_tenant: usize,
    /// Long calls in flight per tenant (also counted in `calls_per_tenant`).
    pub long_calls_per_tenant: usize,
    /// A call whose deadline is above this is long.
    pub long_above: Duration,
    /// Threads of the long-call pool.
    pub long_threads: usize,
}

impl Default for CallShares {
    fn default() -> Self {
        Self {
            calls_per_tenant: 8,
            long_calls_per_tenant: 2,
            long_above: super::ModuleLimits::default().deadline,
            long_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

pub(super) struct Scheduler {
    settings: CallShares,
    calls: TenantShare,
    long_calls: TenantShare,
    /// Started at the first long call.
    long_pool: OnceLock<LongPool>,
}

/// What a call holds while it runs: its tenant's permits.
pub(super) struct Admission {
    _call: SharePermit,
    long: Option<SharePermit>,
}

impl Admission {
    pub(super) fn is_long(&self) -> bool {
        self.long.is_some()
    }
}

impl Scheduler {
    pub(super) fn new(settings: CallShares) -> Self {
        Self {
            calls: TenantShare::new("module calls", settings.calls_per_tenant),
            long_calls: TenantShare::new("long module calls", settings.long_calls_per_tenant),
            settings,
            long_pool: OnceLock::new(),
        }
    }

    /// Admits a call of `tenant` with this deadline, or refuses it (429 `tenant_busy`).
    pub(super) fn admit(&self, tenant: Uuid, deadline: Duration) -> Result<Admission> {
        let call = self.calls.try_acquire(tenant)?;
        let long = match deadline > self.settings.long_above {
            true => Some(self.long_calls.try_acquire(tenant)?),
            false => None,
        };
        Ok(Admission { _call: call, long })
    }

    /// Runs a long call on the long-call pool and waits for it. Dropping the returned future
    /// (the client went away, the request timed out) cancels the call at its next yield.
    pub(super) async fn run_long<T: Send + 'static>(
        &self,
        call: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let pool = self
            .long_pool
            .get_or_init(|| LongPool::start(self.settings.long_threads));
        let mut task = AbortOnDrop(pool.spawn(call));
        match (&mut task.0).await {
            Ok(outcome) => outcome,
            Err(error) => Err(Error::Internal(anyhow::anyhow!(
                "a long module call failed: {error}"
            ))),
        }
    }
}

/// A multi-threaded tokio runtime on low-priority threads named `wasm-long`.
struct LongPool(Option<tokio::runtime::Runtime>);

impl LongPool {
    fn start(threads: usize) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("wasm-long")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .expect("starting the long module call pool");
        Self(Some(runtime))
    }

    fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        self.0.as_ref().expect("running pool").spawn(future)
    }
}

impl Drop for LongPool {
    fn drop(&mut self) {
        // Dropped from async code (the server's shutdown, a test): do not block there.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Lowers the calling thread's priority (Linux: nice applies per thread, by thread id).
fn lower_priority() {
    // SAFETY: setpriority and gettid only read their arguments; no memory is shared.
    let done = unsafe {
        libc::setpriority(
            libc::PRIO_PROCESS,
            libc::gettid() as libc::id_t,
            LONG_CALL_NICE,
        )
    };
    if done != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "could not lower the priority of a long module call thread"
        );
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
