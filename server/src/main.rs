//! `hygie`: the Hygie server and its operator commands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use hygie_core::clock::{format_utc, SystemClock};
use hygie_core::outbox::DevOutbox;
use hygie_core::{audit, outbox};
use hygie_server::config::Config;

/// Hygie — secure messaging for health, social and medico-social professionals.
///
/// Configuration comes from built-in defaults, then `hygie.toml` in the working directory (or
/// the file given with --config), then HYGIE_* environment variables, nested keys joined with
/// a double underscore (HYGIE_DATABASE_URL, HYGIE_MAIL__SMTP_HOST, ...).
#[derive(Parser)]
#[command(name = "hygie", version, about, long_about)]
struct Cli {
    /// Configuration file (TOML). Default: ./hygie.toml when it exists.
    #[arg(long, short, global = true, env = "HYGIE_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Hygie over HTTPS (the default when no command is given).
    Serve,
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Outgoing messages (codes, notifications, contact copies).
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Accounts (secure mailboxes).
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Terms of use (CGU).
    #[command(subcommand)]
    Cgu(CguCommand),
    /// The MSSanté trust space whitelist.
    #[command(name = "trust-space", subcommand)]
    TrustSpace(TrustSpaceCommand),
    /// Mailboxes.
    #[command(subcommand)]
    Mail(MailCommand),
    /// The directory of correspondents (the national MSSanté extract).
    #[command(subcommand)]
    Directory(DirectoryCommand),
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
enum DirectoryCommand {
    /// Replace the remote correspondents with those of the national extract ("Extraction
    /// correspondance MSSanté", `|`-separated, 31 columns). Malformed lines are listed by number
    /// and skipped; searches keep working during the import and switch to the new extract at
    /// the end. Hygie's own accounts and their choices are not touched.
    Import { file: PathBuf },
    /// What the directory holds.
    Status,
    /// Write a generated extract of LINES lines (tests and benchmarks).
    #[command(hide = true)]
    Sample {
        #[arg(long)]
        lines: u64,
        /// One malformed line in every N (0: none).
        #[arg(long, default_value_t = 100)]
        malformed_every: u64,
        file: PathBuf,
    },
    /// Time QUERIES name-prefix searches (2 to 5 letters of names in the directory) and
    /// specialty + place searches against the database; print p50/p99.
    #[command(hide = true)]
    Bench {
        #[arg(long, default_value_t = 1000)]
        queries: usize,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// Import existing mail into an account: an mbox file, or a Maildir directory (its Seen
    /// flags kept). Messages are stored as they are and become searchable.
    Import {
        /// The secure mailbox address.
        #[arg(long)]
        account: String,
        /// inbox, archive or sent.
        #[arg(long, default_value = "inbox")]
        folder: String,
        path: PathBuf,
    },
}

#[derive(Subcommand)]
enum TrustSpaceCommand {
    /// Replace the whitelist with the domains of the national XML file (Domaine/Nom elements).
    /// A file that does not parse or holds no domain changes nothing.
    Import { file: PathBuf },
    /// How many domains are in force, and whether DOMAIN is one of them.
    Check { domain: Option<String> },
}

#[derive(Subcommand)]
enum CguCommand {
    /// Publish a new version from a Markdown file with a front matter (version, date, title).
    /// Every account holder is told at their notification email and must accept it at their
    /// next sign-in.
    Publish { file: PathBuf },
    /// List the published versions.
    List,
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Create one account; an activation link (single use, 72 h) goes to its notification email.
    Create(CreateAccountArgs),
    /// Import a registration authority's CSV file of professionals authorised by law (columns:
    /// adresse;type_bal;nom;prenom;autorite;fonction;email_notification;mobile). Good lines are
    /// imported, bad ones reported by number; running it again creates nothing twice.
    Import {
        /// The CSV file (UTF-8, `;` or `,` separated, with a header line).
        file: PathBuf,
    },
    /// Unlock an account locked after too many failed sign-ins.
    Unlock {
        /// The secure mailbox address.
        address: String,
    },
}

#[derive(clap::Args)]
struct CreateAccountArgs {
    /// The secure mailbox address, on one of the configured domains.
    #[arg(long)]
    address: String,
    /// personal (PER), organisational (ORG) or applicative (APP).
    #[arg(long = "type", default_value = "personal")]
    mailbox_type: String,
    #[arg(long, default_value = "")]
    last_name: String,
    #[arg(long, default_value = "")]
    first_name: String,
    /// Health professionals: RPPS (11 digits) or ADELI (9 characters).
    #[arg(long = "id", default_value = "")]
    professional_id: String,
    #[arg(long, default_value = "")]
    profession: String,
    #[arg(long, default_value = "")]
    specialty: String,
    #[arg(long = "place", default_value = "")]
    practice_place: String,
    /// Other professionals: the registration authority.
    #[arg(long, default_value = "")]
    authority: String,
    /// Other professionals: their role.
    #[arg(long, default_value = "")]
    role: String,
    /// Where codes and notifications go: an ordinary mailbox outside the trust space.
    #[arg(long)]
    notification_email: String,
    /// Mobile number for SMS codes (06…, 07… or +country code).
    #[arg(long, default_value = "")]
    mobile: String,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain; names the first broken record. Exit status 1 if broken.
    Verify,
    /// Show the newest records.
    Tail {
        /// How many records.
        #[arg(short = 'n', long, default_value_t = 20)]
        count: i64,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// List the messages in the development outbox (DATA_DIR/outbox) and the queue's state.
    List,
    /// Print one message of the development outbox.
    Show {
        /// The message number, as given by `hygie outbox list`.
        id: i64,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration, secrets redacted.
    Show,
}

#[derive(Subcommand)]
enum DbCommand {
    /// Apply pending migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any configuration, runtime or thread: the child has nothing of the server.
    match &cli.command {
        Some(Command::PdfPage { page, width }) => return hygie_server::pdf::child_main(*page, *width),
        Some(Command::PdfProbe { file, connect }) => return hygie_server::pdf::probe_main(file, *connect),
        _ => {}
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hygie: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hygie: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config));
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("hygie: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}

async fn run(command: Command, config: Config) -> Result<ExitCode, String> {
    match command {
        Command::Serve => {
            let running = hygie_server::start(config, Arc::new(SystemClock)).await.map_err(|e| e.to_string())?;
            let handle = running.handle();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("stopping");
                handle.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            running.wait().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify) => {
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            let report = audit::verify(&db).await.map_err(|e| e.to_string())?;
            let outcome = match &report.first_break {
                None => audit::Outcome::Success,
                Some(b) => audit::Outcome::Failure(format!("broken_at:{}", b.seq)),
            };
            operator_audit(&db, "operator.audit.verify", None, outcome).await?;
            match report.first_break {
                None => {
                    println!("audit trail intact: {} records verified", report.records);
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    println!("audit trail BROKEN at record #{}: {}", b.seq, b.reason);
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Audit(AuditCommand::Tail { count }) => {
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            operator_audit(&db, "operator.audit.tail", None, audit::Outcome::Success).await?;
            for r in audit::latest(&db, count).await.map_err(|e| e.to_string())?.into_iter().rev() {
                println!(
                    "#{:<6} {}  {:<24} {:<16} {:<32} {:<20} {}",
                    r.seq,
                    format_utc(r.at_ms),
                    // A record's text may come from outside (a user agent, a name): it never
                    // reaches the terminal as control characters.
                    audit::printable(&r.actor),
                    audit::printable(r.ip.as_deref().unwrap_or("-")),
                    audit::printable(&r.action),
                    audit::printable(r.object.as_deref().unwrap_or("-")),
                    audit::printable(&r.outcome)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox(OutboxCommand::List) => {
            let dev = DevOutbox::new(config.outbox_dir());
            let entries = dev.list().map_err(|e| format!("cannot read {}: {e}", dev.dir().display()))?;
            if entries.is_empty() {
                println!("the development outbox ({}) is empty", dev.dir().display());
            }
            for e in &entries {
                println!(
                    "{:>6}  {}  {:<5}  {:<28}  {}",
                    e.id,
                    e.date,
                    e.channel,
                    e.to,
                    e.subject.as_deref().unwrap_or(&e.category)
                );
            }
            if let Ok(db) = hygie_server::open_database(&config).await {
                if let Ok(s) = outbox::stats(&db).await {
                    println!("queue: {} pending, {} sent, {} failed", s.pending, s.sent, s.failed);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox(OutboxCommand::Show { id }) => {
            let dev = DevOutbox::new(config.outbox_dir());
            let found = dev.get(id).map_err(|e| e.to_string())?;
            if let Ok(db) = hygie_server::open_database(&config).await {
                let outcome =
                    if found.is_some() { audit::Outcome::Success } else { audit::Outcome::Failure("not_found".into()) };
                operator_audit(&db, "operator.outbox.show", Some(format!("outbox:{id}")), outcome).await?;
            }
            match found {
                Some(e) => {
                    print!("{}", std::fs::read_to_string(&e.path).map_err(|err| err.to_string())?);
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(format!("no message {id} in the development outbox ({})", dev.dir().display())),
            }
        }
        Command::Config(ConfigCommand::Show) => {
            println!("{config:#?}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Accounts(AccountsCommand::Create(args)) => {
            use app::domain::account::{AccountInput, NewAccount};
            let input = AccountInput {
                address: args.address,
                mailbox_type: args.mailbox_type,
                last_name: args.last_name,
                first_name: args.first_name,
                professional_id: args.professional_id,
                profession: args.profession,
                specialty: args.specialty,
                practice_place: args.practice_place,
                authority: args.authority,
                role: args.role,
                notification_email: args.notification_email,
                mobile: args.mobile,
            };
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            let trust_space = hygie_core::trust_space::all(&db).await.map_err(|e| e.to_string())?;
            let account = NewAccount::parse(&input, &config.domains, |d| trust_space.contains(&d.to_lowercase()))
                .map_err(|errors| format!("account refused: {}", hygie_server::accounts::describe(&errors)))?;
            let record = hygie_server::accounts::to_record(&account);
            match hygie_core::accounts::create_and_invite(&db, &SystemClock, &operator(), &record, &config.public_url())
                .await
                .map_err(|e| e.to_string())?
            {
                hygie_core::accounts::Created::New(id) => {
                    println!(
                        "account {id} created for {}; activation link sent to its notification email",
                        record.address
                    )
                }
                hygie_core::accounts::Created::Existing(id) => {
                    println!("account {id} already exists for {}: unchanged", record.address)
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Accounts(AccountsCommand::Import { file }) => {
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            let bar = indicatif::ProgressBar::new(hygie_server::accounts::count_lines(&file));
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} lines  {elapsed_precise}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let report = hygie_server::accounts::import(&db, &SystemClock, &config, &operator(), &file, &bar)
                .await
                .map_err(|e| e.to_string())?;
            bar.finish_and_clear();
            for (line, reason) in &report.rejected {
                eprintln!("line {line}: {reason}");
            }
            println!(
                "{} imported, {} already present, {} rejected",
                report.imported,
                report.existing,
                report.rejected.len()
            );
            operator_audit(&db, "operator.accounts.import", None, audit::Outcome::Success).await?;
            Ok(if report.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }
        Command::Accounts(AccountsCommand::Unlock { address }) => {
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            let account = hygie_core::accounts::find_by_address(&db, &address)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no account {address}"))?;
            let was_locked = account.locked_ms.is_some();
            hygie_core::auth::signin::unlock(&db, account.id).await.map_err(|e| e.to_string())?;
            operator_audit(&db, "account.unlock", Some(format!("account:{}", account.id)), audit::Outcome::Success)
                .await?;
            if was_locked {
                println!("account {} unlocked; its failure count is back to 0", account.address);
            } else {
                println!("account {} was not locked; its failure count is back to 0", account.address);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Cgu(CguCommand::Publish { file }) => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let doc = hygie_core::terms::TermsDocument::parse(&text)
                .map_err(|e| format!("{} refused: {e}", file.display()))?;
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            hygie_core::terms::sync_bundled(&db, &SystemClock).await.map_err(|e| e.to_string())?;
            match hygie_core::terms::publish(&db, &SystemClock, &doc, &config.public_url())
                .await
                .map_err(|e| e.to_string())?
            {
                Some(told) => {
                    operator_audit(
                        &db,
                        "terms.publish",
                        Some(format!("terms:{}", doc.version)),
                        audit::Outcome::Success,
                    )
                    .await?;
                    println!("terms version {} published; {told} account holder(s) notified", doc.version);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    operator_audit(
                        &db,
                        "terms.publish",
                        Some(format!("terms:{}", doc.version)),
                        audit::Outcome::Failure("not_newer".into()),
                    )
                    .await?;
                    Err(format!("version {} is not newer than the published versions: nothing done", doc.version))
                }
            }
        }
        Command::TrustSpace(TrustSpaceCommand::Import { file }) => {
            let f = std::fs::File::open(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            let domains = match hygie_core::trust_space::parse(std::io::BufReader::new(f)) {
                Ok(d) => d,
                Err(e) => {
                    operator_audit(&db, "trust_space.import", None, audit::Outcome::Failure("refused".into())).await?;
                    return Err(format!("{} refused, the previous list stays in force: {e}", file.display()));
                }
            };
            let n = hygie_core::trust_space::replace(&db, &SystemClock, &domains).await.map_err(|e| e.to_string())?;
            operator_audit(&db, "trust_space.import", Some(format!("domains:{n}")), audit::Outcome::Success).await?;
            println!("trust space: {n} domains in force");
            Ok(ExitCode::SUCCESS)
        }
        Command::TrustSpace(TrustSpaceCommand::Check { domain }) => {
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            let n = hygie_core::trust_space::count(&db).await.map_err(|e| e.to_string())?;
            println!("trust space: {n} domains in force");
            if let Some(d) = domain {
                let inside = config.domains.iter().any(|x| x.eq_ignore_ascii_case(&d))
                    || hygie_core::trust_space::contains(&db, &d).await.map_err(|e| e.to_string())?;
                println!("{d}: {}", if inside { "in the trust space" } else { "outside the trust space" });
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Mail(MailCommand::Import { account, folder, path }) => {
            if !["inbox", "archive", "sent"].contains(&folder.as_str()) {
                return Err(format!("--folder {folder}: expected inbox, archive or sent"));
            }
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            let holder = hygie_core::accounts::find_by_address(&db, &account)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no account {account}"))?;
            let report = hygie_server::mail_import::import(&db, &SystemClock, holder.id, &folder, &path)
                .await
                .map_err(|e| e.to_string())?;
            operator_audit(
                &db,
                "mail.import",
                Some(format!("account:{} stored:{} skipped:{}", holder.id, report.stored, report.skipped)),
                audit::Outcome::Success,
            )
            .await?;
            println!(
                "{} message(s) imported into {account} ({folder}), {} skipped (already there or unreadable)",
                report.stored, report.skipped
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Directory(DirectoryCommand::Import { file }) => {
            let f = std::fs::File::open(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {percent:>3}%  {bytes}/{total_bytes}  {elapsed_precise}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let reader = std::io::BufReader::with_capacity(1 << 16, f);
            let result =
                hygie_core::directory::import(&db, &SystemClock, reader, &mut |bytes| bar.set_position(bytes)).await;
            bar.finish_and_clear();
            match result {
                Ok(r) => {
                    for p in &r.problems {
                        println!("line {}: {}", p.line, p.problem);
                    }
                    if r.malformed > r.problems.len() as u64 {
                        println!("... and {} more malformed lines", r.malformed - r.problems.len() as u64);
                    }
                    operator_audit(
                        &db,
                        "directory.import",
                        Some(format!("import:{} entries:{} malformed:{}", r.import_id, r.entries, r.malformed)),
                        audit::Outcome::Success,
                    )
                    .await?;
                    println!(
                        "directory: {} entries imported from {} lines, {} malformed line(s) skipped; the new extract is in force",
                        r.entries, r.lines, r.malformed
                    );
                    println!(
                        "read and stored in {:.1} s, indexed in {:.1} s",
                        r.load_time.as_secs_f64(),
                        r.index_time.as_secs_f64()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    operator_audit(&db, "directory.import", None, audit::Outcome::Failure("refused".into())).await?;
                    Err(format!("{}: {e}; the directory is unchanged", file.display()))
                }
            }
        }
        Command::Directory(DirectoryCommand::Status) => {
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            let s = hygie_core::directory::status(&db).await.map_err(|e| e.to_string())?;
            match s.imported_ms {
                Some(ms) => println!("national extract: {} entries, imported {}", s.national_entries, format_utc(ms)),
                None => println!("national extract: none imported"),
            }
            println!("published Hygie accounts: {}", s.published_accounts);
            Ok(ExitCode::SUCCESS)
        }
        Command::Directory(DirectoryCommand::Bench { queries }) => {
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            hygie_server::directory_bench::run(&db, queries).await.map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Directory(DirectoryCommand::Sample { lines, malformed_every, file }) => {
            let f = std::fs::File::create(&file).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let bad = hygie_core::directory::sample::write(&mut w, lines, malformed_every)
                .and_then(|bad| std::io::Write::flush(&mut w).map(|_| bad))
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            println!("{}: {lines} lines, {} malformed", file.display(), bad.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Cgu(CguCommand::List) => {
            let db = hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            for v in hygie_core::terms::list(&db).await.map_err(|e| e.to_string())? {
                println!("{}\t{}\t{}", v.doc.version, v.doc.date, v.doc.title);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(DbCommand::Migrate) => {
            hygie_server::open_database(&config).await.map_err(|e| e.to_string())?;
            println!("database up to date");
            Ok(ExitCode::SUCCESS)
        }
        // Handled in `main`, before the runtime starts.
        Command::PdfPage { page, width } => Ok(hygie_server::pdf::child_main(page, width)),
        Command::PdfProbe { file, connect } => Ok(hygie_server::pdf::probe_main(&file, connect)),
    }
}

/// The operator running a command, by OS user name.
fn operator() -> audit::Actor {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    audit::Actor::Operator(user)
}

/// Records an operator command in the audit trail, as the OS user who ran it. A command whose
/// record cannot be written fails.
async fn operator_audit(
    db: &hygie_core::Db,
    action: &str,
    object: Option<String>,
    outcome: audit::Outcome,
) -> Result<(), String> {
    let mut event = audit::AuditEvent::new(operator(), action, outcome);
    event.object = object;
    audit::append(db, &SystemClock, event).await.map(|_| ()).map_err(|e| format!("audit trail: {e}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
