//! Password hashing with argon2id at OWASP's recommended parameters (19 MiB, t=2, p=1).
//!
//! Hashing is CPU-bound for tens of milliseconds and takes 19 MiB, so it runs on the
//! blocking pool behind one process-wide gate ([`HashingLimits`]): at most one computation
//! per core, and a bounded queue of callers waiting for one. A caller past the queue gets 503
//! `server_busy` with `Retry-After` at once, so a flood of logins costs the server a queue's
//! worth of work and memory, not a thread and 19 MiB each. Every computation is counted
//! (`password_hashes_total` on `/metrics`, labelled `hash` or `verify`).
//! Logins for unknown accounts still verify against a fixed dummy hash, so the response
//! time does not tell whether an account exists.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, OnceLock};

use axum::http::StatusCode;
use tokio::sync::Semaphore;

use crate::error::Error;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 256;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random password, verified against when the account does not exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random: [u8; 16] = rand::random();
    hash(&format!("{random:x?}")).expect("hashing a random password")
});

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Verifies `password` against `stored`, or against the dummy hash when there is no
/// stored hash, so both paths cost the same.
pub fn verify(stored: Option<&str>, password: &str) -> bool {
    let (phc, real) = match stored {
        Some(stored) => (stored, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// How many argon2 computations run at once, and how many callers may wait for one.
#[derive(Debug, Clone, Copy)]
pub struct HashingLimits {
    pub concurrency: usize,
    pub queue: usize,
}

impl HashingLimits {
    /// One computation per core: argon2 is CPU-bound, more at once only queue in the kernel.
    pub fn cores() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

impl Default for HashingLimits {
    fn default() -> Self {
        Self {
            concurrency: Self::cores(),
            queue: 32,
        }
    }
}

/// The process-wide gate in front of argon2.
struct Gate {
    slots: Semaphore,
    queue: usize,
    waiting: AtomicUsize,
}

static GATE: OnceLock<Gate> = OnceLock::new();

/// Sets the gate's limits; the first call wins (the server calls it at start-up, before any
/// hashing). Unconfigured, the gate uses [`HashingLimits::default`].
pub fn configure(limits: HashingLimits) {
    let _ = GATE.set(Gate::new(limits));
}

impl Gate {
    fn new(limits: HashingLimits) -> Self {
        Self {
            slots: Semaphore::new(limits.concurrency.max(1)),
            queue: limits.queue,
            waiting: AtomicUsize::new(0),
        }
    }

    fn get() -> &'static Gate {
        GATE.get_or_init(|| Gate::new(HashingLimits::default()))
    }

    /// Runs `work` on the blocking pool once a slot is free, or answers 503 `server_busy`
    /// when the queue of waiting callers is full.
    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let slot = match self.slots.try_acquire() {
            Ok(slot) => slot,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    metrics::counter!("password_hash_refused_total").increment(1);
                    return Err(server_busy());
                }
                let slot = self.slots.acquire().await;
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                slot.expect("the argon2 gate is never closed")
            }
        };
        metrics::counter!("password_hashes_total", "operation" => operation).increment(1);
        let done = tokio::task::spawn_blocking(work).await;
        drop(slot);
        done.map_err(|error| Error::Internal(anyhow::anyhow!("argon2 task failed: {error}")))
    }
}

fn server_busy() -> Error {
    Error::problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_busy",
        "the server is busy checking passwords; retry shortly",
    )
    .with_retry_after(1)
}

/// Hashes on the blocking pool, through the gate.
pub async fn hash_blocking(password: String) -> Result<String, Error> {
    Gate::get()
        .run("hash", move || hash(&password))
        .await?
        .map_err(|error| Error::Internal(anyhow::anyhow!("hashing a password: {error}")))
}

/// Verifies on the blocking pool, through the gate.
pub async fn verify_blocking(stored: Option<String>, password: String) -> Result<bool, Error> {
    Gate::get()
        .run("verify", move || verify(stored.as_deref(), &password))
        .await
}

/// The policy for new passwords: a length range, nothing cleverer (NIST 800-63B).
pub fn check_policy(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(format!("must be at least {MIN_LENGTH} characters"));
    }
    if length > MAX_LENGTH {
        return Err(format!("must be at most {MAX_LENGTH} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_and_rejects() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(Some(&stored), "correct horse battery"));
        assert!(!verify(Some(&stored), "wrong horse battery"));
        assert!(!verify(None, "correct horse battery"));
        assert!(!verify(Some("not a hash"), "x"));
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let gate = Gate::new(HashingLimits {
            concurrency: 1,
            queue: 1,
        });
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let running = gate.run("verify", move || hold.recv().ok());
        let waiting = gate.run("verify", || Some(()));
        let refused = async {
            // The first holds the slot, the second waits in the queue: the third is refused.
            while gate.waiting.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            let refused = gate.run("verify", || Some(())).await;
            release.send(()).unwrap();
            refused
        };
        let (running, waiting, refused) = tokio::join!(running, waiting, refused);
        assert!(running.is_ok() && waiting.is_ok());
        assert_eq!(refused.unwrap_err().code(), "server_busy");
    }
}
