//! A mail server for the tests: a small SMTP listener on 127.0.0.1 that accepts every
//! message (RFC 5321's plain dialogue: EHLO, MAIL, RCPT, DATA, QUIT; no TLS, no auth) and
//! keeps it, so a test reads the password-reset or invitation link out of the mail the
//! server really sent through `lettre`. It runs on the test's runtime; dropping it stops it.

use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message as delivered.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    /// The body, with its transfer encoding undone.
    pub body: String,
}

impl Mail {
    /// The first `https?://` link in the body.
    pub fn link(&self) -> &str {
        let start = self.body.find("http").expect("a link in the mail");
        let rest = &self.body[start..];
        rest.split_whitespace().next().unwrap_or(rest)
    }

    /// The token in the link's fragment (`#token=...`).
    pub fn token(&self) -> String {
        let link = self.link();
        let (_, token) = link.split_once("#token=").expect("a #token= link");
        token.to_owned()
    }
}

pub struct SmtpServer {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(converse(stream, kept.clone()));
            }
        });
        Self { port, mails, task }
    }

    /// For `serve --smtp-url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// The mails sent to `address`, oldest first.
    pub fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|mail| mail.to.iter().any(|to| to == address))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn converse(stream: TcpStream, mails: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut reply = async |text: &str| {
        let _ = write.write_all(format!("{text}\r\n").as_bytes()).await;
    };
    reply("220 test-smtp ready").await;
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            reply("250 test-smtp").await;
        } else if upper.starts_with("MAIL FROM:") {
            from = address_in(&line);
            to.clear();
            reply("250 OK").await;
        } else if upper.starts_with("RCPT TO:") {
            to.push(address_in(&line));
            reply("250 OK").await;
        } else if upper == "DATA" {
            reply("354 end with .").await;
            let mut data = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "." {
                    break;
                }
                data.push(line.strip_prefix('.').map_or(line.clone(), str::to_owned));
            }
            let (subject, body) = parse_message(&data);
            mails.lock().unwrap().push(Mail {
                from: from.clone(),
                to: to.clone(),
                subject,
                body,
            });
            reply("250 OK queued").await;
        } else if upper == "QUIT" {
            reply("221 bye").await;
            break;
        } else {
            reply("250 OK").await;
        }
    }
}

fn address_in(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line[start..end].to_owned()
}

/// The subject and the decoded body of a single-part message.
fn parse_message(lines: &[String]) -> (String, String) {
    let split = lines
        .iter()
        .position(String::is_empty)
        .unwrap_or(lines.len());
    let header = |name: &str| {
        lines[..split]
            .iter()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let raw = lines.get(split + 1..).unwrap_or_default().join("\r\n");
    let body = match header("Content-Transfer-Encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "quoted-printable" => decode_quoted_printable(&raw),
        "base64" => String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(raw.replace("\r\n", ""))
                .expect("a base64 body"),
        )
        .expect("a UTF-8 body"),
        _ => raw,
    };
    (header("Subject"), body)
}

fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'=', Some(hex)) => {
                let hex = std::str::from_utf8(hex).expect("ASCII");
                out.push(u8::from_str_radix(hex, 16).expect("a =XX escape"));
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("a UTF-8 body")
}
