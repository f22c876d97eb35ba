//! Where outgoing messages go: SMTP or a local development outbox for email, an HTTP gateway or
//! the same development outbox for SMS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::{Channel, Outgoing};
use crate::clock::{format_utc, Millis};

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid address: {0}")]
    InvalidAddress(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(String, bool),
    #[error("SMS gateway answered HTTP {0}")]
    GatewayStatus(u16),
    #[error("SMS gateway unreachable: {0}")]
    GatewayUnreachable(String),
    #[error("no SMS gateway configured")]
    NoSmsGateway,
    #[error("cannot write the development outbox: {0}")]
    Io(#[from] std::io::Error),
}

impl TransportError {
    /// A permanent error is not retried: the message can never be delivered as it is.
    pub fn is_permanent(&self) -> bool {
        match self {
            TransportError::InvalidAddress(_) | TransportError::Build(_) | TransportError::NoSmsGateway => true,
            TransportError::Smtp(_, permanent) => *permanent,
            TransportError::GatewayStatus(code) => (400..500).contains(code) && *code != 429 && *code != 408,
            TransportError::GatewayUnreachable(_) | TransportError::Io(_) => false,
        }
    }

    /// A short code for the audit trail.
    pub fn code(&self) -> &'static str {
        match self {
            TransportError::InvalidAddress(_) => "invalid_address",
            TransportError::Build(_) => "build",
            TransportError::Smtp(..) => "smtp",
            TransportError::GatewayStatus(_) => "gateway_status",
            TransportError::GatewayUnreachable(_) => "gateway_unreachable",
            TransportError::NoSmsGateway => "no_sms_gateway",
            TransportError::Io(_) => "io",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    Starttls,
    /// TLS from the first byte, usually port 465.
    Tls,
    /// No encryption: only for a relay on this machine or a test sink.
    None,
}

pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub from: String,
    pub timeout: Duration,
}

pub enum EmailTransport {
    Dev(DevOutbox),
    Smtp { mailer: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox },
}

/// An SMTP client for `host:port` with the given security and optional credentials.
pub fn smtp_mailer(
    host: &str,
    port: u16,
    security: SmtpSecurity,
    username: Option<String>,
    password: Option<SecretString>,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, TransportError> {
    let builder = match security {
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
        SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)),
    }
    .map_err(|e| TransportError::Smtp(e.to_string(), true))?;
    let mut builder = builder.port(port).timeout(Some(timeout));
    if let (Some(user), Some(pass)) = (username, password) {
        builder = builder.credentials(Credentials::new(user, pass.expose_secret().to_string()));
    }
    Ok(builder.build())
}

impl EmailTransport {
    pub fn smtp(s: SmtpSettings) -> Result<EmailTransport, TransportError> {
        let from: Mailbox = s.from.parse().map_err(|_| TransportError::InvalidAddress("sender".into()))?;
        let mailer = smtp_mailer(&s.host, s.port, s.security, s.username, s.password, s.timeout)?;
        Ok(EmailTransport::Smtp { mailer, from })
    }
}

/// Where secure mail to other operators of the trust space goes.
pub enum MssTransport {
    /// The development outbox: the raw message, readable with `hygie outbox show`.
    Dev(DevOutbox),
    /// The trust space's SMTP relay, which routes to each operator.
    Relay(MssRelay),
}

/// The trust space's SMTP relay, one connection per message. Lettre's transport cannot give
/// `RCPT TO` parameters, so its connection is driven here: when the relay advertises DSN
/// (RFC 3461), delivery status notifications are asked for (`RET=HDRS`, `ENVID` = the
/// Message-ID, `NOTIFY=SUCCESS,FAILURE,DELAY`, `ORCPT`), so that what becomes of the message
/// comes back to its sender as reports. Reports themselves leave from the null sender and ask
/// for nothing.
pub struct MssRelay {
    host: String,
    port: u16,
    security: SmtpSecurity,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
}

impl MssRelay {
    pub fn new(
        host: &str,
        port: u16,
        security: SmtpSecurity,
        username: Option<String>,
        password: Option<SecretString>,
        timeout: Duration,
    ) -> MssRelay {
        let credentials = match (username, password) {
            (Some(u), Some(p)) => Some(Credentials::new(u, p.expose_secret().to_string())),
            _ => None,
        };
        MssRelay { host: host.to_string(), port, security, credentials, timeout, hello: ClientId::default() }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
        let tls = || TlsParameters::new(self.host.clone());
        let timeout = Some(self.timeout);
        let server = (self.host.as_str(), self.port);
        let mut conn = match self.security {
            SmtpSecurity::Tls => {
                AsyncSmtpConnection::connect_tokio1(server, timeout, &self.hello, Some(tls()?), None).await?
            }
            SmtpSecurity::Starttls => {
                let mut c = AsyncSmtpConnection::connect_tokio1(server, timeout, &self.hello, None, None).await?;
                c.starttls(tls()?, &self.hello).await?;
                c
            }
            SmtpSecurity::None => AsyncSmtpConnection::connect_tokio1(server, timeout, &self.hello, None, None).await?,
        };
        if let Some(creds) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], creds).await?;
        }
        Ok(conn)
    }

    /// Sends `body` to `to`, from `from` (`None`: the null sender, for a report); asks for
    /// DSN with `envelope_id` when given and the relay offers it.
    pub async fn send(
        &self,
        from: Option<lettre::Address>,
        to: lettre::Address,
        envelope_id: Option<&str>,
        body: &[u8],
    ) -> Result<(), lettre::transport::smtp::Error> {
        use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
        use lettre::transport::smtp::extension::{MailBodyParameter, MailParameter, RcptParameter};
        let mut conn = self.connect().await?;
        let result = async {
            // Lettre keeps only the extensions it knows: EHLO once more to read whether DSN is there.
            let ehlo = conn.command(Ehlo::new(self.hello.clone())).await?;
            let dsn =
                ehlo.message().any(|l| l.split_whitespace().next().is_some_and(|k| k.eq_ignore_ascii_case("DSN")));
            let other = |k: &str, v: &str| MailParameter::Other { keyword: k.into(), value: Some(v.into()) };
            let mut mail = Vec::new();
            if !body.is_ascii() {
                mail.push(MailParameter::Body(MailBodyParameter::EightBitMime));
            }
            let ask = dsn && from.is_some();
            if let (true, Some(id)) = (ask, envelope_id) {
                mail.push(other("RET", "HDRS"));
                mail.push(other("ENVID", id));
            }
            let mut rcpt = Vec::new();
            if ask {
                rcpt.push(RcptParameter::Other {
                    keyword: "NOTIFY".into(),
                    value: Some("SUCCESS,FAILURE,DELAY".into()),
                });
                rcpt.push(RcptParameter::Other { keyword: "ORCPT".into(), value: Some(format!("rfc822;{to}")) });
            }
            conn.command(Mail::new(from.clone(), mail)).await?;
            conn.command(Rcpt::new(to.clone(), rcpt)).await?;
            conn.command(Data).await?;
            conn.message(body).await?;
            Ok::<(), lettre::transport::smtp::Error>(())
        }
        .await;
        match &result {
            Ok(()) => {
                let _ = conn.quit().await;
            }
            Err(_) => conn.abort().await,
        }
        result
    }
}

/// An HTTP SMS gateway: `POST url` with `Authorization: Bearer TOKEN` and the JSON body
/// `{"to": "+33612345678", "text": "…", "reference": "hygie-outbox-42"}`. Any 2xx is success;
/// 4xx (but 408 and 429) is permanent; anything else is retried.
pub struct SmsGateway {
    pub url: String,
    pub token: SecretString,
    pub client: reqwest::Client,
}

impl SmsGateway {
    pub fn new(url: String, token: SecretString) -> Result<SmsGateway, TransportError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| TransportError::GatewayUnreachable(e.to_string()))?;
        Ok(SmsGateway { url, token, client })
    }
}

pub enum SmsTransport {
    Dev(DevOutbox),
    Gateway(SmsGateway),
    Disabled,
}

/// Both channels.
pub struct Transport {
    pub email: EmailTransport,
    pub sms: SmsTransport,
    pub mss: MssTransport,
}

impl Transport {
    /// Everything to the development outbox in `dir`.
    pub fn dev(dir: impl Into<PathBuf>) -> Transport {
        let dev = DevOutbox::new(dir);
        Transport {
            email: EmailTransport::Dev(dev.clone()),
            sms: SmsTransport::Dev(dev.clone()),
            mss: MssTransport::Dev(dev),
        }
    }

    pub async fn send(&self, id: i64, now: Millis, msg: &Outgoing) -> Result<(), TransportError> {
        match msg.channel {
            Channel::Email => match &self.email {
                EmailTransport::Dev(dev) => dev.write(id, now, msg),
                EmailTransport::Smtp { mailer, from } => {
                    let email = build_email(from, msg)?;
                    mailer
                        .send(email)
                        .await
                        .map(|_| ())
                        .map_err(|e| TransportError::Smtp(smtp_error_text(&e), e.is_permanent()))
                }
            },
            Channel::Sms => match &self.sms {
                SmsTransport::Dev(dev) => dev.write(id, now, msg),
                SmsTransport::Gateway(gw) => send_sms(gw, id, msg).await,
                SmsTransport::Disabled => Err(TransportError::NoSmsGateway),
            },
            Channel::Mss => match &self.mss {
                MssTransport::Dev(dev) => dev.write(id, now, msg),
                MssTransport::Relay(relay) => {
                    let (from, to, envelope_id) = mss_envelope(msg)?;
                    relay
                        .send(from, to, envelope_id.as_deref(), msg.body.as_bytes())
                        .await
                        .map_err(|e| TransportError::Smtp(smtp_error_text(&e), e.is_permanent()))
                }
            },
        }
    }
}

fn smtp_error_text(e: &lettre::transport::smtp::Error) -> String {
    // The status code and kind only: server replies may echo addresses back.
    match e.status() {
        Some(code) => format!("server replied {code}"),
        None if e.is_timeout() => "timeout".into(),
        None if e.is_transient() => "transient error".into(),
        None => "connection or protocol error".into(),
    }
}

/// The outbox category of reports (read receipts): sent from the null sender `<>`, so that
/// nothing ever answers them.
pub const REPORT_CATEGORY: &str = "mail.report";

/// The SMTP envelope of a secure message: its From address (the null sender for a report) to
/// its one recipient, and its Message-ID as the envelope id DSN reports will quote.
#[allow(clippy::type_complexity)]
fn mss_envelope(msg: &Outgoing) -> Result<(Option<lettre::Address>, lettre::Address, Option<String>), TransportError> {
    let parsed = mail_parser::MessageParser::default()
        .parse_headers(msg.body.as_bytes())
        .ok_or_else(|| TransportError::Build("unreadable message".into()))?;
    let to: lettre::Address = msg.recipient.parse().map_err(|_| TransportError::InvalidAddress("recipient".into()))?;
    if msg.category == REPORT_CATEGORY {
        return Ok((None, to, None));
    }
    let from = parsed
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .ok_or_else(|| TransportError::InvalidAddress("sender".into()))?;
    let from: lettre::Address = from.parse().map_err(|_| TransportError::InvalidAddress("sender".into()))?;
    // xtext may carry any printable ASCII; a Message-ID that is not is not quoted.
    let envelope_id = parsed
        .message_id()
        .filter(|id| id.len() <= 100 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string);
    Ok((Some(from), to, envelope_id))
}

fn build_email(from: &Mailbox, msg: &Outgoing) -> Result<Message, TransportError> {
    let to: Mailbox = msg.recipient.parse().map_err(|_| TransportError::InvalidAddress("recipient".into()))?;
    let mut b = Message::builder().from(from.clone()).to(to).subject(msg.subject.clone().unwrap_or_default());
    if let Some(r) = &msg.reply_to {
        let reply: Mailbox = r.parse().map_err(|_| TransportError::InvalidAddress("reply-to".into()))?;
        b = b.reply_to(reply);
    }
    b.header(ContentType::TEXT_PLAIN).body(msg.body.clone()).map_err(|e| TransportError::Build(e.to_string()))
}

async fn send_sms(gw: &SmsGateway, id: i64, msg: &Outgoing) -> Result<(), TransportError> {
    let payload = serde_json::json!({
        "to": msg.recipient,
        "text": msg.body,
        "reference": format!("hygie-outbox-{id}"),
    });
    let res = gw
        .client
        .post(&gw.url)
        .bearer_auth(gw.token.expose_secret())
        .json(&payload)
        .send()
        .await
        .map_err(|e| TransportError::GatewayUnreachable(e.without_url().to_string()))?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(TransportError::GatewayStatus(res.status().as_u16()))
    }
}

/// The development outbox: one UTF-8 text file per message in a directory, readable with
/// `hygie outbox list` / `hygie outbox show ID` or any text editor.
#[derive(Debug, Clone)]
pub struct DevOutbox {
    dir: PathBuf,
}

/// One file of the development outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevOutboxEntry {
    pub id: i64,
    pub date: String,
    pub channel: String,
    pub category: String,
    pub to: String,
    pub subject: Option<String>,
    pub reply_to: Option<String>,
    pub body: String,
    pub path: PathBuf,
}

impl DevOutbox {
    pub fn new(dir: impl Into<PathBuf>) -> DevOutbox {
        DevOutbox { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file_name(id: i64, channel: Channel) -> String {
        format!("{id:08}-{}.txt", channel.as_str())
    }

    pub fn write(&self, id: i64, now: Millis, msg: &Outgoing) -> Result<(), TransportError> {
        std::fs::create_dir_all(&self.dir)?;
        let mut text = format!(
            "Id: {id}\nDate: {}\nChannel: {}\nCategory: {}\nTo: {}\n",
            format_utc(now),
            msg.channel.as_str(),
            msg.category,
            msg.recipient
        );
        if let Some(r) = &msg.reply_to {
            text.push_str(&format!("Reply-To: {r}\n"));
        }
        if let Some(s) = &msg.subject {
            text.push_str(&format!("Subject: {s}\n"));
        }
        text.push('\n');
        text.push_str(&msg.body);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let final_path = self.dir.join(Self::file_name(id, msg.channel));
        let tmp = self.dir.join(format!(".{}.tmp", Self::file_name(id, msg.channel)));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &final_path)?;
        Ok(())
    }

    /// Every message in the outbox, oldest first.
    pub fn list(&self) -> std::io::Result<Vec<DevOutboxEntry>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for entry in rd {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') || !name.ends_with(".txt") {
                continue;
            }
            if let Some(e) = parse_entry(&path, &std::fs::read_to_string(&path)?) {
                out.push(e);
            }
        }
        out.sort_by_key(|e| e.id);
        Ok(out)
    }

    pub fn get(&self, id: i64) -> std::io::Result<Option<DevOutboxEntry>> {
        Ok(self.list()?.into_iter().find(|e| e.id == id))
    }
}

fn parse_entry(path: &Path, text: &str) -> Option<DevOutboxEntry> {
    let (head, body) = text.split_once("\n\n")?;
    let mut e = DevOutboxEntry {
        id: 0,
        date: String::new(),
        channel: String::new(),
        category: String::new(),
        to: String::new(),
        subject: None,
        reply_to: None,
        body: body.to_string(),
        path: path.to_path_buf(),
    };
    for line in head.lines() {
        let (k, v) = line.split_once(": ")?;
        match k {
            "Id" => e.id = v.parse().ok()?,
            "Date" => e.date = v.into(),
            "Channel" => e.channel = v.into(),
            "Category" => e.category = v.into(),
            "To" => e.to = v.into(),
            "Subject" => e.subject = Some(v.into()),
            "Reply-To" => e.reply_to = Some(v.into()),
            _ => {}
        }
    }
    Some(e)
}
