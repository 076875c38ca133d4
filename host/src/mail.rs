//! Outgoing mail: password-reset links and invitations, over SMTP with `lettre` (rustls).
//!
//! Mail is optional. Without `serve --smtp-url` nothing is sent: an admin issues a reset or an
//! invitation and the token comes back in the answer, to hand over as they see fit. With it,
//! the token is mailed as a link and never appears in an answer, so the admin who asks for a
//! reset cannot use it themselves. Links point at the console under `--public-url`, with the
//! token after `#`: browsers do not send the fragment, so it stays out of access logs and
//! `Referer` headers.

use std::time::Duration;

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// `serve --smtp-url`, `--mail-from` and `--public-url`.
#[derive(Debug, Clone, Default)]
pub struct MailSettings {
    /// `smtp://host:port` (plain; `?tls=required` for STARTTLS) or `smtps://host:port`.
    pub smtp_url: Option<String>,
    pub from: String,
    /// Where people reach this server, for links in mail (`https://app.example.com`).
    pub public_url: String,
}

#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    public_url: String,
}

/// A message to one person.
pub struct Letter {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> anyhow::Result<Self> {
        let transport = match &settings.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("--smtp-url is not a valid smtp:// or smtps:// URL")?
                    .timeout(Some(Duration::from_secs(10)))
                    .build(),
            ),
            None => None,
        };
        Ok(Self {
            transport,
            from: settings
                .from
                .parse()
                .context("--mail-from is not a mailbox (`Name <address>` or `address`)")?,
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Whether mail is sent; when not, tokens are handed back to the admin who issued them.
    pub fn sends(&self) -> bool {
        self.transport.is_some()
    }

    /// The console page `page` with the token in the fragment.
    pub fn link(&self, page: &str, token: &str) -> String {
        format!("{}/console/{page}#token={token}", self.public_url)
    }

    /// Sends one letter; an error when no SMTP server is configured or it refused the mail.
    pub async fn send(&self, letter: Letter) -> anyhow::Result<()> {
        let transport = self
            .transport
            .as_ref()
            .context("no SMTP server configured")?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(letter.to.parse().context("recipient is not a mailbox")?)
            .subject(letter.subject)
            .body(letter.body)?;
        transport.send(message).await.context("sending mail")?;
        metrics::counter!("mail_sent_total").increment(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_token_in_the_fragment_under_the_public_url() {
        let mailer = Mailer::new(&MailSettings {
            smtp_url: None,
            from: "VeroField <no-reply@example.com>".into(),
            public_url: "https://app.example.com/".into(),
        })
        .unwrap();
        assert!(!mailer.sends());
        assert_eq!(
            mailer.link("reset-password", "vfp_x"),
            "https://app.example.com/console/reset-password#token=vfp_x"
        );
    }

    #[test]
    fn a_bad_smtp_url_or_sender_is_refused_at_start() {
        let bad_url = MailSettings {
            smtp_url: Some("http://mail.example.com".into()),
            from: "no-reply@example.com".into(),
            public_url: String::new(),
        };
        assert!(Mailer::new(&bad_url).is_err());
        let bad_from = MailSettings {
            from: "not a mailbox".into(),
            ..MailSettings::default()
        };
        assert!(Mailer::new(&bad_from).is_err());
    }
}
