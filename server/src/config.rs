//! Configuration: working defaults, then an optional `hygie.toml`, then `HYGIE_*` environment
//! variables (nested keys with a double underscore: `HYGIE_MAIL__SMTP_HOST`). Secrets are
//! `SecretString`s and print as `[REDACTED]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use hygie_core::outbox::SmtpSecurity;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where Hygie keeps its SQLite database, development TLS certificate and outbox.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://…`; default: `sqlite:DATA_DIR/hygie.db`.
    pub database_url: Option<String>,
    /// The key that seals the audit trail, kept outside the database; default
    /// `DATA_DIR/audit.key`, made at first start. Every instance sharing one database needs the
    /// same file.
    pub audit_key_file: Option<PathBuf>,
    /// HTTPS listening address.
    pub listen: SocketAddr,
    /// Plain HTTP listening address, which only redirects to HTTPS; empty to disable.
    pub http_listen: Option<SocketAddr>,
    /// The address people use (`https://messagerie.example.fr`); default: derived from `listen`.
    pub public_url: Option<String>,
    /// Where the compiled front end lives (`pkg/`, CSS, favicon).
    pub site_root: PathBuf,
    /// The load balancers and reverse proxies in front of Hygie, as addresses or networks
    /// (`["10.0.0.0/8", "::1"]`). `X-Forwarded-For` is read only on connections from them, and
    /// the client is its rightmost address that is not one of them. Empty (the default): the
    /// header is ignored.
    pub trusted_proxies: Vec<String>,
    /// `tracing` filter, e.g. `info,hygie=debug`.
    pub log: String,
    /// The mail domains whose mailboxes this Hygie holds (`jean.dupont@DOMAIN`).
    pub domains: Vec<String>,
    pub tls: TlsConfig,
    pub mail: MailConfig,
    /// Secure mail to the other operators of the trust space.
    pub mss: MssConfig,
    /// Mailbox sizes.
    pub mailbox: MailboxConfig,
    pub sms: SmsConfig,
    pub support: SupportConfig,
    pub operator: OrganisationConfig,
    pub host: HostConfig,
    pub outbox: OutboxConfig,
    pub session: SessionConfig,
    /// Mail from the other operators of the trust space: the inbound SMTP and LMTP listeners.
    pub smtp: SmtpConfig,
    /// Mail clients and business software reading the mailbox: the IMAP listeners.
    pub imap: ImapConfig,
    /// Seed demonstration accounts when the database has no account (development only; the
    /// run script turns it on).
    pub demo_accounts: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// A session ends after this many minutes without activity (1 to 120).
    pub idle_minutes: i64,
    /// A session ends this many hours after sign-in, however active (1 to 24).
    pub absolute_hours: i64,
    /// Sign-in, activation and reset attempts allowed per client IP and hour.
    pub signin_per_ip_per_hour: i64,
    /// Let a phone's push subscription point at this machine over plain HTTP (tests, or a push
    /// relay on the same host); otherwise pushes go only to push services over HTTPS.
    pub push_to_loopback: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig { idle_minutes: 30, absolute_hours: 12, signin_per_ip_per_hour: 300, push_to_loopback: false }
    }
}

/// The inbound SMTP listener (other operators' servers hand Hygie their mail) and the optional
/// LMTP listener (for an operator who puts their own MTA in front).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Whether the SMTP listener runs.
    pub enabled: bool,
    /// Its address; 25 in production (behind the MX record), 2525 for the embedded run.
    pub listen: SocketAddr,
    /// The name Hygie gives in its greeting and EHLO answer; default: the host of `public_url`.
    pub hostname: Option<String>,
    /// Refuse MAIL until the session is encrypted with STARTTLS (530 5.7.0).
    pub require_tls: bool,
    /// The largest message accepted, as received; default: 1.4 × `mailbox.max_message_mb`
    /// (attachments grow by a third in base64), plus 1 MB of headers.
    pub max_message_mb: Option<i64>,
    /// Recipients of one message (the rest get 452 4.5.3 and are sent again by the peer).
    pub max_recipients: usize,
    /// Seconds a peer may stay silent between commands, and between two packets of a message.
    pub command_timeout_seconds: u64,
    /// Seconds a whole message (DATA) may take to arrive.
    pub data_timeout_seconds: u64,
    /// Simultaneous connections from one peer address, and in all.
    pub connections_per_ip: usize,
    pub max_connections: usize,
    /// Messages one peer address may hand over in an hour (counted in the database: every
    /// instance together).
    pub messages_per_peer_per_hour: i64,
    /// LMTP on a TCP address (for an MTA on this machine or a private network), or
    pub lmtp_listen: Option<SocketAddr>,
    /// LMTP on a Unix socket (made with mode 0660).
    pub lmtp_socket: Option<PathBuf>,
    /// SMTP submission for mail clients and business software with STARTTLS required before
    /// AUTH (587 in production; 1587 for the embedded run); `None`: off.
    pub submission_listen: Option<SocketAddr>,
    /// SMTP submission over implicit TLS (465 in production; 1465 for the embedded run).
    pub submissions_listen: Option<SocketAddr>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 2525)),
            hostname: None,
            require_tls: true,
            max_message_mb: None,
            max_recipients: 100,
            command_timeout_seconds: 300,
            data_timeout_seconds: 600,
            connections_per_ip: 20,
            max_connections: 500,
            messages_per_peer_per_hour: 10_000,
            lmtp_listen: None,
            lmtp_socket: None,
            submission_listen: Some(SocketAddr::from(([127, 0, 0, 1], 1587))),
            submissions_listen: Some(SocketAddr::from(([127, 0, 0, 1], 1465))),
        }
    }
}

/// IMAP for mail clients and business software (OAuth access tokens only, through SASL
/// OAUTHBEARER or XOAUTH2: never a password), on the HTTPS certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapConfig {
    /// Whether the IMAP listeners run.
    pub enabled: bool,
    /// IMAP over implicit TLS; 993 in production, 9993 for the embedded run.
    pub tls_listen: Option<SocketAddr>,
    /// IMAP with STARTTLS (required before AUTHENTICATE); 143 in production, 9143 for the
    /// embedded run.
    pub starttls_listen: Option<SocketAddr>,
    /// The largest literal (an APPENDed message) accepted; default: as `smtp.max_message_mb`.
    pub max_literal_mb: Option<i64>,
    /// Simultaneous connections of one holder, from one address, and in all.
    pub connections_per_holder: usize,
    pub connections_per_ip: usize,
    pub max_connections: usize,
    /// Minutes an authenticated client may stay silent (or IDLE) before it is logged out (RFC
    /// 9051 §5.4: at least 30).
    pub idle_minutes: u64,
    /// Seconds a client has to authenticate.
    pub login_seconds: u64,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            enabled: true,
            tls_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9993))),
            starttls_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9143))),
            max_literal_mb: None,
            connections_per_holder: 20,
            connections_per_ip: 50,
            max_connections: 1000,
            idle_minutes: 30,
            login_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key`. When both are empty, a self-signed development
    /// certificate for localhost is generated in `DATA_DIR/tls/`.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// Files in `DATA_DIR/outbox/` (read them with `hygie outbox list` / `show`).
    Dev,
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    pub transport: MailTransportKind,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretString>,
    /// The sender of every message Hygie sends outside.
    pub from: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailboxConfig {
    /// A message's text and attachments together, in MB (1 to 100).
    pub max_message_mb: i64,
    /// Each mailbox's quota, in MB.
    pub quota_mb: i64,
    /// PDF pages drawn at once for previews by this instance (each in its own process).
    pub preview_concurrent: usize,
    /// The Hygie binary that draws PDF pages (`PROGRAM pdf-page`); default: this one.
    pub preview_program: Option<PathBuf>,
}

impl Default for MailboxConfig {
    fn default() -> Self {
        MailboxConfig { max_message_mb: 25, quota_mb: 2048, preview_concurrent: 2, preview_program: None }
    }
}

/// How secure messages reach mailboxes of other operators: through the trust space's SMTP relay
/// (TLS by default), straight to each recipient domain's MX when no relay is named, or, in
/// development, into the local outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MssConfig {
    pub transport: MailTransportKind,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretString>,
    /// A message not delivered after this many hours comes back to its sender as undelivered.
    pub expiry_hours: i64,
    /// Without `smtp_host`: the port of the recipients' mail exchangers (25; another in tests).
    pub mx_port: u16,
    /// Without `smtp_host`: the DNS servers asked for MX records (`"ip:port"`); none: the
    /// system's (`/etc/resolv.conf`).
    pub dns_servers: Vec<SocketAddr>,
    /// A PEM file of the certificate authorities a peer's certificate must chain to (the
    /// IGC-Santé roots); none: the Mozilla roots.
    pub trust_anchors: Option<PathBuf>,
    /// A PEM certificate and its key shown to peers that ask for a client certificate.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl Default for MssConfig {
    fn default() -> Self {
        MssConfig {
            transport: MailTransportKind::Dev,
            smtp_host: String::new(),
            smtp_port: 25,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password: None,
            expiry_hours: 48,
            mx_port: 25,
            dns_servers: Vec::new(),
            trust_anchors: None,
            client_cert: None,
            client_key: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsTransportKind {
    Dev,
    Gateway,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    pub transport: SmsTransportKind,
    pub gateway_url: Option<String>,
    pub gateway_token: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupportConfig {
    /// Where contact-form requests are sent.
    pub address: String,
    pub hours_fr: String,
    pub hours_en: String,
    pub phone: Option<String>,
    /// Contact-form submissions allowed per client IP and hour.
    pub contact_per_hour: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrganisationConfig {
    pub name: String,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub registration: Option<String>,
    /// Publication director (operator only).
    pub director: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostConfig {
    pub name: String,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub registration: Option<String>,
    /// The health-data hosting certification (HDS) and its scope.
    pub certification: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Seconds between polls when the queue is idle.
    pub poll_seconds: u64,
    pub max_attempts: i64,
    pub retry_base_seconds: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            database_url: None,
            audit_key_file: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            public_url: None,
            site_root: PathBuf::from(std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into())),
            trusted_proxies: Vec::new(),
            log: "info".into(),
            domains: vec!["hygie.localhost".into()],
            tls: TlsConfig::default(),
            mail: MailConfig::default(),
            mss: MssConfig::default(),
            mailbox: MailboxConfig::default(),
            sms: SmsConfig::default(),
            support: SupportConfig::default(),
            operator: OrganisationConfig {
                name: "Opérateur Hygie (à configurer)".into(),
                address: "Adresse à configurer : operator.address".into(),
                director: "À configurer : operator.director".into(),
                ..Default::default()
            },
            host: HostConfig {
                name: "Hébergeur (à configurer)".into(),
                address: "Adresse à configurer : host.address".into(),
                certification: "Certification HDS à configurer : host.certification".into(),
                ..Default::default()
            },
            outbox: OutboxConfig::default(),
            session: SessionConfig::default(),
            smtp: SmtpConfig::default(),
            imap: ImapConfig::default(),
            demo_accounts: false,
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            transport: MailTransportKind::Dev,
            smtp_host: "localhost".into(),
            smtp_port: 587,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password: None,
            from: "Hygie <ne-pas-repondre@hygie.localhost>".into(),
        }
    }
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig { transport: SmsTransportKind::Dev, gateway_url: None, gateway_token: None }
    }
}

impl Default for SupportConfig {
    fn default() -> Self {
        SupportConfig {
            address: "assistance@hygie.localhost".into(),
            hours_fr: "Du lundi au vendredi de 8 h à 20 h, le samedi de 8 h à 14 h (hors jours fériés).".into(),
            hours_en: "Monday to Friday 8 am to 8 pm, Saturday 8 am to 2 pm (French time, except public holidays)."
                .into(),
            phone: None,
            contact_per_hour: 5,
        }
    }
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig { poll_seconds: 1, max_attempts: 10, retry_base_seconds: 5 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Figment(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

/// The top-level keys of [`Config`], for picking configuration out of the environment.
const TOP_LEVEL_KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "audit_key_file",
    "listen",
    "http_listen",
    "public_url",
    "site_root",
    "trusted_proxies",
    // Replaced by trusted_proxies; still read, to refuse it with a clear message.
    "trust_forwarded_for",
    "log",
    "tls",
    "mail",
    "mss",
    "mailbox",
    "sms",
    "support",
    "operator",
    "host",
    "outbox",
    "domains",
    "session",
    "smtp",
    "imap",
    "demo_accounts",
];

impl Config {
    /// Defaults, then `file` (when it exists, or must exist when given explicitly), then the
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::new();
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::Invalid(format!("file {} not found", path.display())));
                }
                fig = fig.merge(Toml::file(path));
            }
            None => fig = fig.merge(Toml::file("hygie.toml")),
        }
        // Only variables that name a configuration key: others with the same prefix (the test
        // suite's HYGIE_TEST_*, the command line's HYGIE_CONFIG) are not configuration.
        let env = Env::prefixed("HYGIE_")
            .filter(|key| {
                let top = key.as_str().split("__").next().unwrap_or("");
                TOP_LEVEL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(top))
            })
            .split("__");
        let fig = fig.merge(env);
        if fig.find_value("trust_forwarded_for").is_ok() {
            return Err(ConfigError::Invalid(
                "trust_forwarded_for was replaced by trusted_proxies: list the addresses of the load balancers \
                 in front of Hygie, such as trusted_proxies = [\"10.0.0.0/8\"]"
                    .into(),
            ));
        }
        let config: Config = fig.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        crate::proxies::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(ConfigError::Invalid("tls.cert and tls.key go together: set both or neither".into()));
        }
        if self.mss.client_cert.is_some() != self.mss.client_key.is_some() {
            return Err(ConfigError::Invalid(
                "mss.client_cert and mss.client_key go together: set both or neither".into(),
            ));
        }
        if !(1..=100).contains(&self.mailbox.max_message_mb) {
            return Err(ConfigError::Invalid("mailbox.max_message_mb must be between 1 and 100".into()));
        }
        if self.mailbox.quota_mb < self.mailbox.max_message_mb {
            return Err(ConfigError::Invalid("mailbox.quota_mb must be at least mailbox.max_message_mb".into()));
        }
        if !(1..=16).contains(&self.mailbox.preview_concurrent) {
            return Err(ConfigError::Invalid("mailbox.preview_concurrent must be between 1 and 16".into()));
        }
        if !(1..=24 * 30).contains(&self.mss.expiry_hours) {
            return Err(ConfigError::Invalid("mss.expiry_hours must be between 1 and 720".into()));
        }
        if self.mail.transport == MailTransportKind::Smtp && self.mail.smtp_host.trim().is_empty() {
            return Err(ConfigError::Invalid("mail.smtp_host is required with mail.transport = \"smtp\"".into()));
        }
        if self.sms.transport == SmsTransportKind::Gateway
            && (self.sms.gateway_url.is_none() || self.sms.gateway_token.is_none())
        {
            return Err(ConfigError::Invalid(
                "sms.gateway_url and sms.gateway_token are required with sms.transport = \"gateway\"".into(),
            ));
        }
        if self.support.contact_per_hour < 1 {
            return Err(ConfigError::Invalid("support.contact_per_hour must be at least 1".into()));
        }
        if !(1..=120).contains(&self.session.idle_minutes) {
            return Err(ConfigError::Invalid("session.idle_minutes must be between 1 and 120".into()));
        }
        if !(1..=24).contains(&self.session.absolute_hours) {
            return Err(ConfigError::Invalid("session.absolute_hours must be between 1 and 24".into()));
        }
        if self.session.signin_per_ip_per_hour < 1 {
            return Err(ConfigError::Invalid("session.signin_per_ip_per_hour must be at least 1".into()));
        }
        if let Some(mb) = self.smtp.max_message_mb {
            if !(1..=200).contains(&mb) {
                return Err(ConfigError::Invalid("smtp.max_message_mb must be between 1 and 200".into()));
            }
        }
        if !(1..=1000).contains(&self.smtp.max_recipients) {
            return Err(ConfigError::Invalid("smtp.max_recipients must be between 1 and 1000".into()));
        }
        if self.smtp.command_timeout_seconds < 1 || self.smtp.data_timeout_seconds < 1 {
            return Err(ConfigError::Invalid("smtp timeouts must be at least 1 second".into()));
        }
        if self.smtp.connections_per_ip < 1 || self.smtp.max_connections < self.smtp.connections_per_ip {
            return Err(ConfigError::Invalid(
                "smtp.connections_per_ip must be at least 1 and at most smtp.max_connections".into(),
            ));
        }
        if self.smtp.messages_per_peer_per_hour < 1 {
            return Err(ConfigError::Invalid("smtp.messages_per_peer_per_hour must be at least 1".into()));
        }
        if let Some(mb) = self.imap.max_literal_mb {
            if !(1..=300).contains(&mb) {
                return Err(ConfigError::Invalid("imap.max_literal_mb must be between 1 and 300".into()));
            }
        }
        if self.imap.connections_per_holder < 1
            || self.imap.connections_per_ip < 1
            || self.imap.max_connections < self.imap.connections_per_ip
        {
            return Err(ConfigError::Invalid(
                "imap.connections_per_holder and imap.connections_per_ip must be at least 1, \
                 and imap.connections_per_ip at most imap.max_connections"
                    .into(),
            ));
        }
        if self.imap.idle_minutes < 30 || self.imap.login_seconds < 1 {
            return Err(ConfigError::Invalid(
                "imap.idle_minutes must be at least 30 (RFC 9051) and imap.login_seconds at least 1".into(),
            ));
        }
        if self.domains.is_empty() || self.domains.iter().any(|d| d.trim().is_empty() || d.contains('@')) {
            return Err(ConfigError::Invalid(
                "domains must list at least one mail domain, such as \"hygie.example.fr\"".into(),
            ));
        }
        Ok(())
    }

    /// The address people use, for links in messages.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| {
            let port = self.listen.port();
            if port == 443 {
                "https://localhost".into()
            } else {
                format!("https://localhost:{port}")
            }
        })
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("hygie.db").display()))
    }

    pub fn audit_key_path(&self) -> PathBuf {
        self.audit_key_file.clone().unwrap_or_else(|| self.data_dir.join("audit.key"))
    }

    /// The largest message the SMTP and LMTP listeners accept, in bytes, as received.
    pub fn smtp_max_message_bytes(&self) -> i64 {
        match self.smtp.max_message_mb {
            Some(mb) => mb * 1024 * 1024,
            None => hygie_core::mail::attach::Limits {
                max_message_bytes: self.mailbox.max_message_mb * 1024 * 1024,
                ..Default::default()
            }
            .max_encoded_bytes(),
        }
    }

    /// The largest literal an IMAP client may send (an APPENDed message).
    pub fn imap_max_literal_bytes(&self) -> i64 {
        match self.imap.max_literal_mb {
            Some(mb) => mb * 1024 * 1024,
            None => self.smtp_max_message_bytes(),
        }
    }

    /// The name in the SMTP greeting: `smtp.hostname`, or the host of the public address.
    pub fn smtp_hostname(&self) -> String {
        if let Some(h) = &self.smtp.hostname {
            return h.clone();
        }
        let url = self.public_url();
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
        let authority = rest.split('/').next().unwrap_or(rest);
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => authority.split(':').next().unwrap_or(authority),
        };
        if host.is_empty() {
            "localhost".into()
        } else {
            host.to_string()
        }
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_on_a_laptop() {
        let c = Config::default();
        assert_eq!(c.database_url(), "sqlite:data/hygie.db");
        assert_eq!(c.mail.transport, MailTransportKind::Dev);
        assert!(c.trusted_proxies.is_empty(), "X-Forwarded-For ignored unless proxies are listed");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HYGIE_TEST_SOMETHING", "not configuration");
            jail.create_file(
                "hygie.toml",
                r#"
                data_dir = "/srv/hygie"
                [mail]
                transport = "smtp"
                smtp_host = "smtp.example.org"
                smtp_password = "file-secret"
                "#,
            )?;
            jail.set_env("HYGIE_MAIL__SMTP_PORT", "2525");
            jail.set_env("HYGIE_DATABASE_URL", "postgres://hygie@db/hygie");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.data_dir, PathBuf::from("/srv/hygie"));
            assert_eq!(c.mail.smtp_host, "smtp.example.org");
            assert_eq!(c.mail.smtp_port, 2525);
            assert_eq!(c.database_url(), "postgres://hygie@db/hygie");
            let shown = format!("{c:?}");
            assert!(!shown.contains("file-secret"), "secrets must be redacted: {shown}");
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_from_file_or_environment_and_the_old_switch_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hygie.toml", r#"trusted_proxies = ["10.0.0.0/8", "::1"]"#)?;
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.trusted_proxies, ["10.0.0.0/8", "::1"]);
            jail.set_env("HYGIE_TRUSTED_PROXIES", r#"["192.0.2.0/24"]"#);
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.trusted_proxies, ["192.0.2.0/24"]);
            jail.set_env("HYGIE_TRUSTED_PROXIES", r#"["load-balancer"]"#);
            assert!(Config::load(None).unwrap_err().to_string().contains("load-balancer"));
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("HYGIE_TRUST_FORWARDED_FOR", "true");
            assert!(Config::load(None).unwrap_err().to_string().contains("trusted_proxies"));
            Ok(())
        });
    }

    #[test]
    fn smtp_listens_on_a_non_privileged_port_by_default_and_requires_tls() {
        let c = Config::default();
        assert!(c.smtp.enabled && c.smtp.require_tls);
        assert_eq!(c.smtp.listen.port(), 2525);
        assert_eq!(c.smtp_hostname(), "localhost");
        assert_eq!(c.smtp_max_message_bytes(), 25 * 1024 * 1024 * 14 / 10 + 1024 * 1024);
        figment::Jail::expect_with(|jail| {
            jail.set_env("HYGIE_SMTP__LISTEN", "0.0.0.0:25");
            jail.set_env("HYGIE_SMTP__LMTP_SOCKET", "/run/hygie/lmtp.sock");
            jail.set_env("HYGIE_PUBLIC_URL", "https://messagerie.example.fr");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.smtp.listen.port(), 25);
            assert_eq!(c.smtp.lmtp_socket, Some(PathBuf::from("/run/hygie/lmtp.sock")));
            assert_eq!(c.smtp_hostname(), "messagerie.example.fr");
            jail.set_env("HYGIE_SMTP__MAX_RECIPIENTS", "0");
            assert!(Config::load(None).unwrap_err().to_string().contains("max_recipients"));
            Ok(())
        });
    }

    #[test]
    fn refuses_half_configured_tls_and_unknown_keys() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HYGIE_TLS__CERT", "/etc/hygie/cert.pem");
            assert!(Config::load(None).unwrap_err().to_string().contains("tls.cert and tls.key"));
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.create_file("hygie.toml", "listne = \"0.0.0.0:443\"")?;
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }
}
