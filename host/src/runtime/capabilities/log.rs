//! `log`: the module's log, which also receives WASI stdout and stderr. Capped per call: past
//! the cap the log keeps what it has, marks itself truncated and drops the rest, and the call
//! goes on (a chatty module is not a failed request). At the end of the call the lines go to
//! `tracing` under the target `verofield::module`, each with the tenant, module, version,
//! digest and request id as fields ([`Origin`]). A module's text is one line whatever it holds:
//! control characters are written as escapes (`\n`, `\u{1b}`), so a module cannot forge a line
//! of the host's log or colour it.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use uuid::Uuid;
use wasmtime::component::Linker;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::{Capability, Granted};
use crate::runtime::bindings::verofield::platform::log::{self, Level};
use crate::runtime::instance::CallState;

/// Whose call wrote a log: the fields every line of it carries.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub tenant_id: Uuid,
    pub module: &'a str,
    /// The manifest's semver.
    pub version: &'a str,
    /// The component's sha256, which names the exact code.
    pub digest: &'a str,
    pub request_id: &'a str,
}

/// One `tracing` event under `verofield::module` with the origin's fields.
macro_rules! emit {
    ($level:expr, $origin:expr, $($rest:tt)+) => {
        tracing::event!(
            target: "verofield::module",
            $level,
            tenant_id = %$origin.tenant_id,
            module = $origin.module,
            version = $origin.version,
            digest = $origin.digest,
            request_id = $origin.request_id,
            $($rest)+
        )
    };
}

/// The capped log of one call, shared by the `log` import and the WASI output streams.
#[derive(Clone)]
pub struct ModuleLog(Arc<Mutex<Lines>>);

struct Lines {
    lines: Vec<(Level, String)>,
    bytes: usize,
    cap: usize,
    truncated: bool,
}

impl ModuleLog {
    pub fn new(cap: usize) -> Self {
        Self(Arc::new(Mutex::new(Lines {
            lines: Vec::new(),
            bytes: 0,
            cap,
            truncated: false,
        })))
    }

    pub fn write(&self, level: Level, message: &str) {
        let mut log = self.0.lock().expect("module log poisoned");
        let room = log.cap - log.bytes;
        if message.len() > room {
            log.truncated = true;
        }
        let kept = floor_char_boundary(message, room);
        if !kept.is_empty() {
            log.bytes += kept.len();
            log.lines.push((level, kept.to_owned()));
        }
    }

    /// Bytes kept, and whether anything was dropped.
    pub fn size(&self) -> (usize, bool) {
        let log = self.0.lock().expect("module log poisoned");
        (log.bytes, log.truncated)
    }

    /// Emits the lines through `tracing`, each with the call's origin, and empties the log.
    pub fn flush(&self, origin: &Origin<'_>) {
        let mut log = self.0.lock().expect("module log poisoned");
        for (level, message) in log.lines.drain(..) {
            let message = one_line(&message);
            match level {
                Level::Trace => emit!(tracing::Level::TRACE, origin, "{message}"),
                Level::Debug => emit!(tracing::Level::DEBUG, origin, "{message}"),
                Level::Info => emit!(tracing::Level::INFO, origin, "{message}"),
                Level::Warn => emit!(tracing::Level::WARN, origin, "{message}"),
                Level::Error => emit!(tracing::Level::ERROR, origin, "{message}"),
            }
        }
        if log.truncated {
            emit!(
                tracing::Level::WARN,
                origin,
                cap = log.cap,
                "module log truncated at its cap"
            );
        }
    }

    /// A WASI output stream writing into this log at `level` (info for stdout, warn for stderr).
    pub fn stream(&self, level: Level) -> LogStream {
        LogStream {
            log: self.clone(),
            level,
        }
    }
}

/// The text with every control character (and the Unicode line and paragraph separators)
/// written as its escape, so that it stays one line of the host's log.
fn one_line(text: &str) -> Cow<'_, str> {
    let breaks = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.contains(breaks) {
        return Cow::Borrowed(text);
    }
    let mut line = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if breaks(c) {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    Cow::Owned(line)
}

fn floor_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let end = (0..=max)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[..end]
}

pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    log::add_to_linker::<_, Capability<ModuleLog>>(linker, |call| Granted {
        state: &mut call.log,
        calls: &mut call.host_calls,
    })
}

impl log::Host for Granted<'_, ModuleLog> {
    fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.calls.charge()?;
        self.state.write(level, &message);
        Ok(())
    }
}

/// WASI stdout or stderr of a call: every write lands in the capped module log.
#[derive(Clone)]
pub struct LogStream {
    log: ModuleLog,
    level: Level,
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let text = String::from_utf8_lossy(buf);
        self.log.write(self.level, text.trim_end_matches('\n'));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_the_cap_on_a_char_boundary_and_marks_it() {
        let log = ModuleLog::new(5);
        log.write(Level::Info, "abc");
        log.write(Level::Info, "dé€");
        log.write(Level::Info, "more");
        assert_eq!(log.size(), (5, true));
    }

    #[test]
    fn a_message_stays_one_line() {
        assert_eq!(
            one_line("ok\n1999-01-01T00:00:00Z ERROR forged\r\u{1b}[31m\u{2028}x\u{85}"),
            "ok\\n1999-01-01T00:00:00Z ERROR forged\\r\\u{1b}[31m\\u{2028}x\\u{85}"
        );
        assert!(matches!(one_line("plain é"), Cow::Borrowed("plain é")));
    }
}
