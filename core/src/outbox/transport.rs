//! Where outgoing messages go: SMTP or a local development outbox for email, an HTTP gateway or
//! the same development outbox for SMS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, CertificateStore, Identity, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
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
    /// No TLS with the peer: not offered, or a certificate that is not trusted.
    #[error("TLS: {0}")]
    Tls(String),
    /// The recipient domain's mail exchangers could not be found (permanent when the domain
    /// does not exist or takes no mail).
    #[error("DNS: {0}")]
    Dns(String, bool),
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
            TransportError::Smtp(_, permanent) | TransportError::Dns(_, permanent) => *permanent,
            TransportError::Tls(_) => false,
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
            TransportError::Tls(_) => "tls",
            TransportError::Dns(..) => "dns",
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
    /// SMTP: through the trust space's relay, or straight to each recipient domain's MX.
    Smtp(MssSmtp),
}

/// TLS for secure mail leaving Hygie: the trust anchors a peer's certificate must chain to (the
/// IGC-Santé roots in production; when none are configured, the Mozilla roots), and the client
/// certificate shown to peers that ask for one.
#[derive(Clone, Default)]
pub struct MssTls {
    anchors: Option<Certificate>,
    identity: Option<Identity>,
}

impl MssTls {
    /// `anchors`: a PEM bundle of CA certificates; `client`: a PEM certificate and its PEM key.
    pub fn from_pem(anchors: Option<&[u8]>, client: Option<(&[u8], &[u8])>) -> Result<MssTls, TransportError> {
        let anchors = match anchors {
            Some(pem) => {
                let count = CertificateDer::pem_slice_iter(pem).filter(|c| c.is_ok()).count();
                if count == 0 {
                    return Err(TransportError::Build("the trust anchors file holds no PEM certificate".into()));
                }
                Some(Certificate::from_pem(pem).map_err(|e| TransportError::Build(format!("trust anchors: {e}")))?)
            }
            None => None,
        };
        let identity = match client {
            Some((cert, key)) => {
                // Lettre's rustls identity takes the certificate as DER (despite the name), and
                // only the first one: a client certificate must be issued by a CA the peer knows.
                let der = CertificateDer::from_pem_slice(cert).map_err(|_| {
                    TransportError::Build("the client certificate file holds no PEM certificate".into())
                })?;
                Some(
                    Identity::from_pem(der.as_ref(), key)
                        .map_err(|e| TransportError::Build(format!("client certificate: {e}")))?,
                )
            }
            None => None,
        };
        Ok(MssTls { anchors, identity })
    }

    /// The TLS parameters to talk to `server_name`, whose certificate must name it.
    fn parameters(&self, server_name: &str) -> Result<TlsParameters, lettre::transport::smtp::Error> {
        let mut b = TlsParameters::builder(server_name.to_string());
        if let Some(anchors) = &self.anchors {
            b = b.certificate_store(CertificateStore::None).add_root_certificate(anchors.clone());
        }
        if let Some(identity) = &self.identity {
            b = b.identify_with(identity.clone());
        }
        b.build()
    }
}

/// How an SMTP connection for secure mail is found.
pub enum MssRoute {
    /// The trust space's relay, which routes to each operator.
    Relay { host: String, port: u16, security: SmtpSecurity, credentials: Option<Credentials> },
    /// Each recipient domain's mail exchangers (MX records, by preference; the domain itself
    /// when it has none, RFC 5321 §5.1), on `port` (25 but in tests), STARTTLS required and the
    /// certificate verified against the MX host name.
    Direct { resolver: Box<hickory_resolver::TokioResolver>, port: u16 },
}

/// At most this many mail exchangers, and addresses of each, are tried per attempt.
const MAX_EXCHANGERS: usize = 5;
const MAX_ADDRESSES: usize = 2;

/// Secure mail over SMTP, one connection per message. Lettre's transport cannot give `RCPT TO`
/// parameters, so its connection is driven here: when the peer advertises DSN (RFC 3461),
/// delivery status notifications are asked for (`RET=HDRS`, `ENVID` = the Message-ID,
/// `NOTIFY=SUCCESS,FAILURE,DELAY`, `ORCPT`), so that what becomes of the message comes back to
/// its sender as reports. Reports themselves leave from the null sender and ask for nothing.
pub struct MssSmtp {
    route: MssRoute,
    tls: MssTls,
    timeout: Duration,
    hello: ClientId,
}

impl MssSmtp {
    /// Through the relay at `host:port`.
    pub fn relay(
        host: &str,
        port: u16,
        security: SmtpSecurity,
        username: Option<String>,
        password: Option<SecretString>,
        timeout: Duration,
    ) -> MssSmtp {
        let credentials = match (username, password) {
            (Some(u), Some(p)) => Some(Credentials::new(u, p.expose_secret().to_string())),
            _ => None,
        };
        MssSmtp {
            route: MssRoute::Relay { host: host.to_string(), port, security, credentials },
            tls: MssTls::default(),
            timeout,
            hello: ClientId::default(),
        }
    }

    /// Straight to the recipients' MX on `port`, asking `dns_servers` (none: the system's
    /// resolver configuration).
    pub fn direct(
        dns_servers: &[std::net::SocketAddr],
        port: u16,
        timeout: Duration,
    ) -> Result<MssSmtp, TransportError> {
        use hickory_resolver::config::{NameServerConfig, ResolverConfig};
        use hickory_resolver::net::runtime::TokioRuntimeProvider;
        use hickory_resolver::TokioResolver;
        let dns = |e: hickory_resolver::net::NetError| TransportError::Dns(e.to_string(), true);
        let builder = if dns_servers.is_empty() {
            TokioResolver::builder_tokio().map_err(dns)?
        } else {
            let servers = dns_servers
                .iter()
                .map(|a| {
                    let mut ns = NameServerConfig::udp_and_tcp(a.ip());
                    for c in &mut ns.connections {
                        c.port = a.port();
                    }
                    ns
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let resolver = builder.build().map_err(dns)?;
        Ok(MssSmtp {
            route: MssRoute::Direct { resolver: Box::new(resolver), port },
            tls: MssTls::default(),
            timeout,
            hello: ClientId::default(),
        })
    }

    /// The trust anchors and client certificate of every connection.
    pub fn with_tls(mut self, tls: MssTls) -> MssSmtp {
        self.tls = tls;
        self
    }

    /// The name given in EHLO (default: this machine's host name).
    pub fn with_hello(mut self, name: &str) -> MssSmtp {
        self.hello = ClientId::Domain(name.to_string());
        self
    }

    async fn connect_relay(
        &self,
        host: &str,
        port: u16,
        security: SmtpSecurity,
        credentials: Option<&Credentials>,
    ) -> Result<AsyncSmtpConnection, TransportError> {
        let timeout = Some(self.timeout);
        let server = (host, port);
        let tls = || self.tls.parameters(host).map_err(|e| tls_failure(host, &e));
        let mut conn = match security {
            SmtpSecurity::Tls => AsyncSmtpConnection::connect_tokio1(server, timeout, &self.hello, Some(tls()?), None)
                .await
                .map_err(|e| tls_failure(host, &e))?,
            SmtpSecurity::Starttls => {
                let mut c = AsyncSmtpConnection::connect_tokio1(server, timeout, &self.hello, None, None)
                    .await
                    .map_err(|e| smtp_failure(&e))?;
                c.starttls(tls()?, &self.hello).await.map_err(|e| tls_failure(host, &e))?;
                c
            }
            SmtpSecurity::None => AsyncSmtpConnection::connect_tokio1(server, timeout, &self.hello, None, None)
                .await
                .map_err(|e| smtp_failure(&e))?,
        };
        if let Some(creds) = credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], creds).await.map_err(|e| smtp_failure(&e))?;
        }
        Ok(conn)
    }

    /// The mail exchangers of `domain`, best first.
    async fn exchangers(
        resolver: &hickory_resolver::TokioResolver,
        domain: &str,
    ) -> Result<Vec<String>, TransportError> {
        use hickory_resolver::proto::rr::RData;
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        match resolver.mx_lookup(fqdn.as_str()).await {
            Ok(lookup) => {
                let mut mx: Vec<(u16, String)> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                        _ => None,
                    })
                    .collect();
                mx.sort();
                // RFC 7505: a single MX of "." says the domain takes no mail.
                if mx.len() == 1 && (mx[0].1 == "." || mx[0].1.is_empty()) {
                    return Err(TransportError::Dns(format!("{domain} accepts no mail (null MX)"), true));
                }
                let hosts: Vec<String> = mx
                    .into_iter()
                    .map(|(_, h)| h.trim_end_matches('.').to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect();
                if hosts.is_empty() {
                    return Ok(vec![domain.to_ascii_lowercase()]);
                }
                Ok(hosts)
            }
            Err(e) if e.is_nx_domain() => Err(TransportError::Dns(format!("{domain} does not exist"), true)),
            // No MX: the domain is its own mail exchanger (RFC 5321 §5.1).
            Err(e) if e.is_no_records_found() => Ok(vec![domain.to_ascii_lowercase()]),
            Err(e) => Err(TransportError::Dns(format!("MX lookup for {domain}: {e}"), false)),
        }
    }

    /// A connection to one of the domain's mail exchangers, encrypted with a verified
    /// certificate. Exchangers that cannot be reached, or offer no TLS, or a certificate that is
    /// not trusted, are skipped; the last reason is returned when none will do.
    async fn connect_direct(
        &self,
        resolver: &hickory_resolver::TokioResolver,
        port: u16,
        domain: &str,
    ) -> Result<AsyncSmtpConnection, TransportError> {
        let mut last = TransportError::Dns(format!("no mail exchanger for {domain}"), false);
        for host in Self::exchangers(resolver, domain).await?.into_iter().take(MAX_EXCHANGERS) {
            let addresses = match resolver.lookup_ip(format!("{host}.").as_str()).await {
                Ok(ips) => ips.iter().take(MAX_ADDRESSES).collect::<Vec<_>>(),
                Err(e) => {
                    last = TransportError::Dns(format!("address of {host}: {e}"), false);
                    continue;
                }
            };
            for ip in addresses {
                let server = std::net::SocketAddr::new(ip, port);
                let mut conn = match AsyncSmtpConnection::connect_tokio1(
                    server,
                    Some(self.timeout),
                    &self.hello,
                    None,
                    None,
                )
                .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        last = smtp_failure(&e);
                        continue;
                    }
                };
                if !conn.can_starttls() {
                    conn.abort().await;
                    last = TransportError::Tls(format!("{host} does not offer STARTTLS"));
                    continue;
                }
                let tls = self.tls.parameters(&host).map_err(|e| tls_failure(&host, &e))?;
                match conn.starttls(tls, &self.hello).await {
                    Ok(()) => return Ok(conn),
                    // Dropped, not aborted: after a failed handshake lettre's connection has no
                    // stream left to write QUIT to (and would panic trying).
                    Err(e) => last = tls_failure(&host, &e),
                }
            }
        }
        Err(last)
    }

    /// Sends `body` to `to`, from `from` (`None`: the null sender, for a report); asks for
    /// DSN with `envelope_id` when given and the peer offers it.
    pub async fn send(
        &self,
        from: Option<lettre::Address>,
        to: lettre::Address,
        envelope_id: Option<&str>,
        body: &[u8],
    ) -> Result<(), TransportError> {
        let mut conn = match &self.route {
            MssRoute::Relay { host, port, security, credentials } => {
                self.connect_relay(host, *port, *security, credentials.as_ref()).await?
            }
            MssRoute::Direct { resolver, port } => self.connect_direct(resolver, *port, to.domain()).await?,
        };
        let result = self.transaction(&mut conn, from, to, envelope_id, body).await;
        match &result {
            Ok(()) => {
                let _ = conn.quit().await;
            }
            Err(_) => conn.abort().await,
        }
        result.map_err(|e| smtp_failure(&e))
    }

    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        from: Option<lettre::Address>,
        to: lettre::Address,
        envelope_id: Option<&str>,
        body: &[u8],
    ) -> Result<(), lettre::transport::smtp::Error> {
        use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
        use lettre::transport::smtp::extension::{MailBodyParameter, MailParameter, RcptParameter};
        // Lettre keeps only the extensions it knows: EHLO once more to read whether DSN is there.
        let ehlo = conn.command(Ehlo::new(self.hello.clone())).await?;
        let dsn = ehlo.message().any(|l| l.split_whitespace().next().is_some_and(|k| k.eq_ignore_ascii_case("DSN")));
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
            rcpt.push(RcptParameter::Other { keyword: "NOTIFY".into(), value: Some("SUCCESS,FAILURE,DELAY".into()) });
            rcpt.push(RcptParameter::Other { keyword: "ORCPT".into(), value: Some(format!("rfc822;{to}")) });
        }
        conn.command(Mail::new(from, mail)).await?;
        conn.command(Rcpt::new(to, rcpt)).await?;
        conn.command(Data).await?;
        conn.message(body).await?;
        Ok(())
    }
}

/// A failure to set up TLS with `host`: the reason from the TLS layer (an untrusted or expired
/// certificate, a name that does not match), never anything the peer wrote.
fn tls_failure(host: &str, e: &lettre::transport::smtp::Error) -> TransportError {
    if e.is_response() {
        return smtp_failure(e);
    }
    let mut inner: &dyn std::error::Error = e;
    while let Some(source) = inner.source() {
        inner = source;
    }
    let reason: String = inner.to_string().chars().take(200).collect();
    TransportError::Tls(format!("{host}: {reason}"))
}

fn smtp_failure(e: &lettre::transport::smtp::Error) -> TransportError {
    TransportError::Smtp(smtp_error_text(e), e.is_permanent())
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
                MssTransport::Smtp(smtp) => {
                    let (from, to, envelope_id) = mss_envelope(msg)?;
                    smtp.send(from, to, envelope_id.as_deref(), msg.body.as_bytes()).await
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
