//! The operator's commands, one file per command group. Each parses its arguments with clap,
//! calls the same core verbs as the web, and records itself in the audit trail as the OS user
//! who ran it.

mod accounts;
mod audit;
mod cgu;
mod directory;
mod mail;
mod oauth;
mod outbox;
mod serve;
mod trust_space;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hygie_core::clock::SystemClock;
use hygie_server::config::Config;

/// Hygie — secure messaging for health, social and medico-social professionals.
///
/// Configuration comes from built-in defaults, then `hygie.toml` in the working directory (or
/// the file given with --config), then HYGIE_* environment variables, nested keys joined with
/// a double underscore (HYGIE_DATABASE_URL, HYGIE_MAIL__SMTP_HOST, ...).
#[derive(Parser)]
#[command(name = "hygie", version, about, long_about)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./hygie.toml when it exists.
    #[arg(long, short, global = true, env = "HYGIE_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve Hygie over HTTPS (the default when no command is given).
    Serve,
    /// The audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Outgoing messages (codes, notifications, contact copies).
    #[command(subcommand)]
    Outbox(outbox::OutboxCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Accounts (secure mailboxes).
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// Terms of use (CGU).
    #[command(subcommand)]
    Cgu(cgu::CguCommand),
    /// The MSSanté trust space whitelist.
    #[command(name = "trust-space", subcommand)]
    TrustSpace(trust_space::TrustSpaceCommand),
    /// Mailboxes.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Software and mail clients that reach mailboxes with OAuth tokens.
    #[command(subcommand)]
    Oauth(oauth::OAuthCommand),
    /// The directory of correspondents (the national MSSanté extract).
    #[command(subcommand)]
    Directory(directory::DirectoryCommand),
    /// Draw page PAGE of the PDF on standard input as a PNG on standard output (0: count the
    /// pages only). Hygie runs it, confined, for each previewed page.
    #[command(name = "pdf-page", hide = true)]
    PdfPage {
        #[arg(long)]
        page: u32,
        #[arg(long, default_value_t = 600)]
        width: u32,
    },
    /// Confine this process as `pdf-page` does, then try to connect to ADDR and to open FILE,
    /// and say whether each was blocked. Hygie runs it at start-up to report its confinement.
    #[command(name = "pdf-probe", hide = true)]
    PdfProbe {
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        connect: std::net::SocketAddr,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration, secrets redacted.
    Show,
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations and exit.
    Migrate,
}

/// What a command ends with: its exit status, or the message `hygie:` prints before failing.
pub type Outcome = Result<ExitCode, String>;

pub async fn run(command: Command, config: Config) -> Outcome {
    match command {
        Command::Serve => serve::run(config).await,
        Command::Audit(c) => audit::run(c, &config).await,
        Command::Outbox(c) => outbox::run(c, &config).await,
        Command::Config(ConfigCommand::Show) => {
            println!("{config:#?}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(DbCommand::Migrate) => {
            open(&config).await?;
            println!("database up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Accounts(c) => accounts::run(c, &config).await,
        Command::Cgu(c) => cgu::run(c, &config).await,
        Command::TrustSpace(c) => trust_space::run(c, &config).await,
        Command::Mail(c) => mail::run(c, &config).await,
        Command::Oauth(c) => oauth::run(c, &config).await,
        Command::Directory(c) => directory::run(c, &config).await,
        // Handled in `main`, before the runtime starts.
        Command::PdfPage { page, width } => Ok(hygie_server::pdf::child_main(page, width)),
        Command::PdfProbe { file, connect } => Ok(hygie_server::pdf::probe_main(&file, connect)),
    }
}

/// The database, migrated, with the audit key.
async fn open(config: &Config) -> Result<hygie_core::Db, String> {
    hygie_server::open_database(config).await.map_err(|e| e.to_string())
}

/// The operator running a command, by OS user name.
fn operator() -> hygie_core::audit::Actor {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    hygie_core::audit::Actor::Operator(user)
}

/// Records an operator command in the audit trail, as the OS user who ran it. A command whose
/// record cannot be written fails.
async fn recorded(
    db: &hygie_core::Db,
    action: &str,
    object: Option<String>,
    outcome: hygie_core::audit::Outcome,
) -> Result<(), String> {
    let mut event = hygie_core::audit::AuditEvent::new(operator(), action, outcome);
    event.object = object;
    hygie_core::audit::append(db, &SystemClock, event).await.map(|_| ()).map_err(|e| format!("audit trail: {e}"))
}

/// A progress bar on the terminal, with `template`.
fn progress(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
