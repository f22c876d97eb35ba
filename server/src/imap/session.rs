//! One IMAP session: TLS (implicit, or after STARTTLS), SASL with an OAuth access token, then
//! the holder's folders and messages through their [`Mailbox`]. Sequence numbers are positions
//! in the session's snapshot of the selected folder (UID order); the snapshot changes only
//! where RFC 9051 lets the server tell the client (NOOP, IDLE, EXPUNGE, MOVE, SELECT), and
//! IDLE polls the folder's modification counter (one indexed row) every half second, so a
//! change from the webmail, another client or another instance shows within a second.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use hygie_core::auth::holder::Holder;
use hygie_core::auth::oauth;
use hygie_core::mail::imap::{AppendError, ImapFolder, ImapMessage};
use hygie_core::mail::{Action, MailError, Mailbox, SearchQuery};
use imap_codec::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::{Atom, IString, QuotedChar, Tag, Text, Vec1};
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::extensions::namespace::Namespace;
use imap_codec::imap_types::extensions::uidplus::{UidElement, UidSet};
use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName, Section,
};
use imap_codec::imap_types::flag::{Flag, FlagFetch, FlagNameAttribute, FlagPerm, StoreResponse, StoreType};
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox as ImapName};
use imap_codec::imap_types::response::{
    Bye, Capability, Code, CodeOther, CommandContinuationRequest, Data, Greeting, GreetingKind, Status, StatusBody,
    StatusKind, Tagged,
};
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use imap_codec::imap_types::status::{StatusDataItem, StatusDataItemName};
use imap_next::server::{Error as ServerError, Event, Options, ResponseHandle, Server};
use imap_next::stream::{Error as StreamError, Stream};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Duration, Instant};
use tokio_rustls::TlsStream;

use super::{fetch, names, HolderSlot, Shared};

/// After this many malformed or refused commands the session is closed.
const MAX_BAD: u32 = 30;

fn text(s: &str) -> Text<'static> {
    Text::try_from(s.to_string()).unwrap_or_else(|_| Text::unvalidated("..."))
}

fn other_code(code: &'static str) -> Code<'static> {
    Code::Other(CodeOther::unvalidated(code.as_bytes()))
}

fn tagged(tag: Tag<'static>, kind: StatusKind, code: Option<Code<'static>>, t: &str) -> Status<'static> {
    Status::Tagged(Tagged { tag, body: StatusBody { kind, code, text: text(t) } })
}

fn untagged(code: Option<Code<'static>>, t: &str) -> Status<'static> {
    Status::Untagged(StatusBody { kind: StatusKind::Ok, code, text: text(t) })
}

/// Whether a FETCH of `names` needs the messages' text (their envelope, structure or a part).
fn fetch_reads_raw(names: &[MessageDataItemName<'static>]) -> bool {
    use MessageDataItemName as N;
    names.iter().any(|n| {
        matches!(
            n,
            N::Envelope | N::Body | N::BodyStructure | N::BodyExt { .. } | N::Rfc822 | N::Rfc822Header | N::Rfc822Text
        )
    })
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn atom(s: &'static str) -> Atom<'static> {
    Atom::unvalidated(s)
}

/// The tag of a command that did not parse, when it starts with one.
fn tag_of(bytes: &[u8]) -> Option<Tag<'static>> {
    let end = bytes.iter().position(|&b| b == b' ')?;
    let tag = std::str::from_utf8(&bytes[..end]).ok()?;
    Tag::try_from(tag.to_string()).ok()
}

/// Why a command did not parse, as far as the client can act on it (nothing of its content).
fn malformed(bytes: &[u8]) -> &'static str {
    if bytes.iter().any(|b| !b.is_ascii()) {
        // UTF-8 outside a literal: IMAP4rev1 clients name folders in modified UTF-7.
        "Malformed command: 8-bit characters outside a literal (folder names travel in modified UTF-7, \
         RFC 3501 5.1.3)"
    } else {
        "Malformed command"
    }
}

/// What the server offers: before TLS, STARTTLS only; then the SASL mechanisms; once
/// authenticated, the extensions.
fn capabilities(tls: bool, authenticated: bool) -> Vec1<Capability<'static>> {
    let mut c = vec![Capability::Imap4Rev1, Capability::LiteralPlus, Capability::SaslIr, Capability::LoginDisabled];
    if !tls {
        c.push(Capability::StartTls);
    } else if !authenticated {
        c.push(Capability::Auth(AuthMechanism::OAuthBearer));
        c.push(Capability::Auth(AuthMechanism::XOAuth2));
    }
    c.extend([Capability::Id, Capability::Enable, Capability::Idle, Capability::Namespace]);
    if authenticated {
        c.extend([
            Capability::UidPlus,
            Capability::Move,
            Capability::Unselect,
            Capability::from(atom("SPECIAL-USE")),
            Capability::from(atom("CHILDREN")),
        ]);
    }
    Vec1::try_from(c).unwrap_or_else(|_| Vec1::from(Capability::Imap4Rev1))
}

fn name_of(m: &ImapName) -> Option<String> {
    match m {
        ImapName::Inbox => Some("INBOX".into()),
        ImapName::Other(o) => names::decode(&String::from_utf8_lossy(o.as_ref())),
    }
}

fn flags_of(m: &ImapMessage, deleted: bool, draft: bool) -> Vec<FlagFetch<'static>> {
    let mut f = Vec::new();
    if !m.unread {
        f.push(FlagFetch::Flag(Flag::Seen));
    }
    if m.flagged {
        f.push(FlagFetch::Flag(Flag::Flagged));
    }
    if deleted {
        f.push(FlagFetch::Flag(Flag::Deleted));
    }
    if draft {
        f.push(FlagFetch::Flag(Flag::Draft));
    }
    f
}

fn internal_date(ms: i64) -> Option<DateTime> {
    let utc = chrono::DateTime::from_timestamp_millis(ms)?;
    DateTime::try_from(utc.with_timezone(&chrono::FixedOffset::east_opt(0)?)).ok()
}

fn day_ms(d: &imap_codec::imap_types::datetime::NaiveDate) -> i64 {
    d.as_ref().and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or(0)
}

/// Whether `n` is in `set`, `*` standing for `largest`.
fn in_set(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let v = |x: &SeqOrUid| match x {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    set.0.as_ref().iter().any(|s| match s {
        Sequence::Single(x) => v(x) == n,
        Sequence::Range(a, b) => {
            let (a, b) = (v(a), v(b));
            (a.min(b)..=a.max(b)).contains(&n)
        }
    })
}

fn uid_set(uids: &[u32]) -> Option<UidSet> {
    let v: Vec<UidElement> = uids.iter().map(|u| UidElement::Single(nz(*u))).collect();
    Vec1::try_from(v).ok().map(UidSet)
}

/// The selected folder, as this session last told the client.
struct Selected {
    folder: ImapFolder,
    read_only: bool,
    msgs: Vec<ImapMessage>,
    /// Messages this session marked `\Deleted` (ids): EXPUNGE puts them in the Trash (or
    /// deletes them for good from the Trash), as the webmail's delete does.
    deleted: HashSet<i64>,
    modseq: i64,
}

impl Selected {
    fn draft(&self) -> bool {
        self.folder.role == "drafts"
    }

    /// Positions (from 0) of the messages `set` names, by UID or by sequence number.
    fn positions(&self, set: &SequenceSet, uid: bool) -> Vec<usize> {
        let largest = if uid { self.msgs.last().map_or(0, |m| m.uid as u32) } else { self.msgs.len() as u32 };
        (0..self.msgs.len())
            .filter(|&i| in_set(set, if uid { self.msgs[i].uid as u32 } else { i as u32 + 1 }, largest))
            .collect()
    }
}

struct Session<'a> {
    shared: &'a Arc<Shared>,
    ip: IpAddr,
    tls: bool,
    holder: Option<Holder>,
    _slot: Option<HolderSlot>,
    selected: Option<Selected>,
    /// An AUTHENTICATE waiting for the client's response.
    auth: Option<Tag<'static>>,
    idle: Option<Tag<'static>>,
    starttls: Option<ResponseHandle>,
    logout: Option<ResponseHandle>,
    bad: u32,
    /// A FETCH answered part by part, and what the client sent meanwhile (answered after it).
    fetching: Option<PendingFetch>,
    deferred: VecDeque<Event>,
}

/// The rest of a FETCH too large to answer at once (every message of a large mailbox, with
/// bodies): the next part is read and queued once the last response of the previous one has
/// been written, so the server holds one part in memory, not the whole mailbox.
struct PendingFetch {
    tag: Tag<'static>,
    names: Vec<MessageDataItemName<'static>>,
    /// Positions in the snapshot still to answer.
    rest: Vec<usize>,
    /// The last response of the part being written.
    waiting: ResponseHandle,
}

/// At most this many messages in one part of a FETCH…
const FETCH_PART_MESSAGES: usize = 500;
/// …and, when their text is asked, at most this many bytes of it (one message at least).
const FETCH_PART_BYTES: i64 = 4 * 1024 * 1024;
/// Commands a client may send while a FETCH is being answered part by part.
const MAX_DEFERRED: usize = 64;

enum Flow {
    Go,
}

/// The protocol state machine, with Hygie's limits and greeting.
fn new_server(settings: &super::Settings, tls: bool) -> Server {
    let mut options = Options::default();
    options.max_literal_size = settings.max_literal_bytes;
    options.max_command_size = settings.max_literal_bytes.saturating_add(64 * 1024);
    let greeting = Greeting {
        kind: GreetingKind::Ok,
        code: Some(Code::Capability(capabilities(tls, false))),
        text: text("Hygie IMAP ready"),
    };
    Server::new(options, greeting)
}

/// The protocol stream over an accepted TLS connection. imap-next hands each response to
/// rustls whole (`write_all`), and rustls refuses plaintext past its buffer limit (64 KiB by
/// default) with a zero-length write: any message over 64 KiB (a letter with a PDF) ended the
/// connection ("failed to write whole buffer"). No limit here; a FETCH queues one part at a
/// time ([`PendingFetch`]), which bounds what is buffered.
fn tls_stream(mut tls: tokio_rustls::server::TlsStream<TcpStream>) -> Stream {
    tls.get_mut().1.set_buffer_limit(None);
    Stream::tls(TlsStream::Server(tls))
}

/// Sends what is queued (a BYE) and waits until `handle` has left, a few seconds at most.
async fn drain(stream: &mut Stream, server: &mut Server, handle: ResponseHandle) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, stream.next(&mut *server)).await {
            Ok(Ok(Event::ResponseSent { handle: h, .. })) if h == handle => break,
            Ok(Ok(_)) => continue,
            _ => return,
        }
    }
    let _ = stream.flush().await;
}

pub(super) async fn run(
    tcp: TcpStream,
    implicit_tls: bool,
    ip: IpAddr,
    shared: &Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let settings = &shared.settings;
    let mut stream = if implicit_tls {
        match tokio::time::timeout(settings.login_timeout, shared.tls.accept(tcp)).await {
            Ok(Ok(tls)) => tls_stream(tls),
            _ => return,
        }
    } else {
        Stream::insecure(tcp)
    };
    let mut server = new_server(settings, implicit_tls);
    let mut s = Session {
        shared,
        ip,
        tls: implicit_tls,
        holder: None,
        _slot: None,
        selected: None,
        auth: None,
        idle: None,
        starttls: None,
        logout: None,
        bad: 0,
        fetching: None,
        deferred: VecDeque::new(),
    };
    let mut poll = tokio::time::interval(settings.idle_poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut deadline = Instant::now() + settings.login_timeout;
    loop {
        // What the client sent during a FETCH answered in parts, in its order, once it is done.
        if s.fetching.is_none() {
            if let Some(event) = s.deferred.pop_front() {
                let flow = s.event(&mut server, event).await;
                let Flow::Go = flow;
                continue;
            }
        }
        let event = tokio::select! {
            _ = stop.changed() => {
                let h = server.enqueue_status(Status::Bye(Bye { code: None, text: text("Server shutting down") }));
                drain(&mut stream, &mut server, h).await;
                return;
            }
            _ = tokio::time::sleep_until(deadline) => {
                let h = server.enqueue_status(Status::Bye(Bye { code: None, text: text("Autologout: idle for too long") }));
                drain(&mut stream, &mut server, h).await;
                return;
            }
            _ = poll.tick(), if s.idle.is_some() => {
                s.idle_check(&mut server).await;
                continue;
            }
            event = stream.next(&mut server) => event,
        };
        let flow = match event {
            Ok(Event::GreetingSent { .. }) => Flow::Go,
            Ok(Event::ResponseSent { handle, .. }) => {
                if s.fetching.as_ref().is_some_and(|p| p.waiting == handle) {
                    s.fetch_more(&mut server).await;
                    continue;
                }
                if s.logout == Some(handle) {
                    let _ = stream.flush().await;
                    return;
                }
                if s.starttls == Some(handle) {
                    s.starttls = None;
                    let _ = stream.flush().await;
                    let tcp = TcpStream::from(stream);
                    stream = match tokio::time::timeout(settings.login_timeout, shared.tls.accept(tcp)).await {
                        Ok(Ok(tls)) => tls_stream(tls),
                        _ => return,
                    };
                    s.tls = true;
                    // Whatever the client sent after STARTTLS in plain text is forgotten (no
                    // command injected before the handshake, RFC 9051 §11.1): a new state
                    // machine, whose greeting is dropped (none is sent after STARTTLS).
                    server = new_server(settings, true);
                    while let Err(imap_next::Interrupt::Io(imap_next::Io::Output(_))) =
                        imap_next::State::next(&mut server)
                    {}
                }
                continue;
            }
            Ok(event) if s.fetching.is_some() => {
                if s.deferred.len() >= MAX_DEFERRED {
                    let h =
                        server.enqueue_status(Status::Bye(Bye { code: None, text: text("Too many commands at once") }));
                    drain(&mut stream, &mut server, h).await;
                    return;
                }
                s.deferred.push_back(event);
                continue;
            }
            Ok(event) => s.event(&mut server, event).await,
            Err(StreamError::State(e)) => {
                match e {
                    // Already refused with BAD by imap-next.
                    ServerError::LiteralTooLong { .. } => {}
                    ServerError::CommandTooLong { .. } => {
                        server.enqueue_status(Status::Untagged(StatusBody {
                            kind: StatusKind::Bad,
                            code: None,
                            text: text("Command too long"),
                        }));
                    }
                    ServerError::MalformedMessage { discarded_bytes }
                    | ServerError::ExpectedCrlfGotLf { discarded_bytes } => {
                        // Tagged when the tag can be read (RFC 9051 §7.1.5): the client waits for
                        // its tag (mbsync timed out on an untagged BAD).
                        let bytes = discarded_bytes.declassify();
                        let why = malformed(bytes);
                        match tag_of(bytes) {
                            Some(tag) => server.enqueue_status(tagged(tag, StatusKind::Bad, None, why)),
                            None => server.enqueue_status(Status::Untagged(StatusBody {
                                kind: StatusKind::Bad,
                                code: None,
                                text: text(why),
                            })),
                        };
                    }
                }
                s.bad += 1;
                Flow::Go
            }
            Err(e) => {
                tracing::debug!(error = %e, "IMAP connection ended");
                return;
            }
        };
        let Flow::Go = flow;
        if s.bad > MAX_BAD {
            let h = server.enqueue_status(Status::Bye(Bye { code: None, text: text("Too many errors") }));
            drain(&mut stream, &mut server, h).await;
            return;
        }
        deadline = Instant::now() + if s.holder.is_some() { settings.idle_timeout } else { settings.login_timeout };
    }
}

impl Session<'_> {
    /// What the client sent: a command, an AUTHENTICATE and its response, IDLE and DONE.
    async fn event(&mut self, server: &mut Server, event: Event) -> Flow {
        match event {
            Event::CommandReceived { command } => self.command(server, command).await,
            Event::CommandAuthenticateReceived { command_authenticate: c } => {
                self.authenticate(server, c.tag, c.mechanism, c.initial_response.map(|r| r.declassify().to_vec())).await
            }
            Event::AuthenticateDataReceived { authenticate_data } => {
                let tag = self.auth.take();
                match (tag, authenticate_data) {
                    (Some(tag), AuthenticateData::Continue(data)) => {
                        self.check_token(server, tag, data.declassify()).await;
                    }
                    (Some(tag), AuthenticateData::Cancel) => {
                        let _ =
                            server.authenticate_finish(tagged(tag, StatusKind::Bad, None, "Authentication cancelled"));
                    }
                    (None, _) => {}
                }
                Flow::Go
            }
            Event::IdleCommandReceived { tag } => {
                if self.holder.is_none() {
                    let _ = server.idle_reject(tagged(tag, StatusKind::Bad, None, "Authenticate first"));
                } else {
                    let cont = CommandContinuationRequest::basic(None, "idling")
                        .unwrap_or_else(|_| CommandContinuationRequest::base64(Vec::new()));
                    if server.idle_accept(cont).is_ok() {
                        self.idle = Some(tag);
                        self.updates(server).await;
                    }
                }
                Flow::Go
            }
            Event::IdleDoneReceived => {
                if let Some(tag) = self.idle.take() {
                    self.updates(server).await;
                    server.enqueue_status(tagged(tag, StatusKind::Ok, None, "IDLE terminated"));
                }
                Flow::Go
            }
            // Written, not received: handled by the loop.
            Event::GreetingSent { .. } | Event::ResponseSent { .. } => Flow::Go,
        }
    }

    fn mailbox<'m>(&'m self, holder: &'m Holder) -> Mailbox<'m> {
        Mailbox::new(&self.shared.db, self.shared.clock.as_ref(), holder, &self.shared.policy)
    }

    fn internal(&self, server: &mut Server, tag: Tag<'static>, e: impl std::fmt::Display) {
        let reference = hygie_core::random_ref();
        tracing::error!(reference = %reference, error = %e, "IMAP command failed");
        server.enqueue_status(tagged(
            tag,
            StatusKind::No,
            Some(other_code("SERVERBUG")),
            &format!("Internal error, reference {reference}"),
        ));
    }

    async fn authenticate(
        &mut self,
        server: &mut Server,
        tag: Tag<'static>,
        mechanism: AuthMechanism<'static>,
        initial: Option<Vec<u8>>,
    ) -> Flow {
        let refuse = |server: &mut Server, tag, kind, code, t: &str| {
            let _ = server.authenticate_finish(tagged(tag, kind, code, t));
        };
        if self.holder.is_some() {
            refuse(server, tag, StatusKind::Bad, None, "Already authenticated");
        } else if !self.tls {
            refuse(server, tag, StatusKind::No, Some(other_code("PRIVACYREQUIRED")), "Use STARTTLS first");
        } else if !matches!(mechanism, AuthMechanism::OAuthBearer | AuthMechanism::XOAuth2) {
            refuse(
                server,
                tag,
                StatusKind::No,
                Some(other_code("CANNOT")),
                "Authenticate with OAUTHBEARER or XOAUTH2 and an OAuth access token",
            );
        } else if let Some(data) = initial {
            self.check_token(server, tag, &data).await;
        } else if server.authenticate_continue(CommandContinuationRequest::base64(Vec::new())).is_ok() {
            self.auth = Some(tag);
        }
        Flow::Go
    }

    async fn check_token(&mut self, server: &mut Server, tag: Tag<'static>, data: &[u8]) {
        let failed = |server: &mut Server, tag| {
            let _ = server.authenticate_finish(tagged(
                tag,
                StatusKind::No,
                Some(other_code("AUTHENTICATIONFAILED")),
                "Access token invalid, expired or revoked",
            ));
        };
        let sh = self.shared;
        let bearer = match oauth::authenticate_sasl(&sh.db, sh.clock.as_ref(), data, &self.ip.to_string()).await {
            Ok(Ok(bearer)) => bearer,
            Ok(Err(oauth::SaslRefusal::TermsPending)) => {
                let _ = server.authenticate_finish(tagged(
                    tag,
                    StatusKind::No,
                    Some(other_code("AUTHORIZATIONFAILED")),
                    "Accept the terms of use in force in the webmail first",
                ));
                return;
            }
            Ok(Err(_)) => return failed(server, tag),
            Err(e) => {
                let reference = hygie_core::random_ref();
                tracing::error!(reference = %reference, error = %e, "IMAP authentication failed");
                let _ = server.authenticate_finish(tagged(
                    tag,
                    StatusKind::No,
                    Some(other_code("UNAVAILABLE")),
                    &format!("Try again later, reference {reference}"),
                ));
                return;
            }
        };
        let Some(slot) = sh.admit_holder(bearer.holder.account_id) else {
            let _ = server.authenticate_finish(tagged(
                tag,
                StatusKind::No,
                Some(other_code("LIMIT")),
                "Too many connections to this mailbox",
            ));
            return;
        };
        tracing::info!(account = bearer.holder.account_id, grant = bearer.grant_id, "IMAP authenticated");
        self.holder = Some(bearer.holder);
        self._slot = Some(slot);
        let _ = server.authenticate_finish(tagged(
            tag,
            StatusKind::Ok,
            Some(Code::Capability(capabilities(true, true))),
            "Authenticated",
        ));
    }

    async fn command(&mut self, server: &mut Server, command: Command<'static>) -> Flow {
        let tag = command.tag;
        let ok = |server: &mut Server, tag: Tag<'static>, t: &str| {
            server.enqueue_status(tagged(tag, StatusKind::Ok, None, t));
        };
        let bad = |server: &mut Server, tag: Tag<'static>, t: &str| {
            server.enqueue_status(tagged(tag, StatusKind::Bad, None, t));
        };
        // Any state.
        match command.body {
            CommandBody::Capability => {
                server.enqueue_data(Data::Capability(capabilities(self.tls, self.holder.is_some())));
                ok(server, tag, "CAPABILITY completed");
                return Flow::Go;
            }
            CommandBody::Noop | CommandBody::Check => {
                self.updates(server).await;
                ok(server, tag, "NOOP completed");
                return Flow::Go;
            }
            CommandBody::Logout => {
                server.enqueue_status(Status::Bye(Bye { code: None, text: text("Logging out") }));
                self.logout = Some(server.enqueue_status(tagged(tag, StatusKind::Ok, None, "LOGOUT completed")));
                return Flow::Go;
            }
            CommandBody::Id { .. } => {
                let params = vec![(IString::try_from("name").ok(), "Hygie")]
                    .into_iter()
                    .filter_map(|(k, v)| Some((k?, imap_codec::imap_types::core::NString(IString::try_from(v).ok()))))
                    .collect();
                server.enqueue_data(Data::Id { parameters: Some(params) });
                ok(server, tag, "ID completed");
                return Flow::Go;
            }
            CommandBody::StartTLS => {
                if self.tls {
                    bad(server, tag, "Already encrypted");
                } else {
                    self.starttls =
                        Some(server.enqueue_status(tagged(tag, StatusKind::Ok, None, "Begin TLS negotiation now")));
                }
                return Flow::Go;
            }
            CommandBody::Login { .. } => {
                self.bad += 1;
                server.enqueue_status(tagged(
                    tag,
                    StatusKind::No,
                    Some(other_code("CANNOT")),
                    "LOGIN is disabled: never a password; authenticate with OAUTHBEARER or XOAUTH2 and an OAuth \
                     access token from Hygie",
                ));
                return Flow::Go;
            }
            body => {
                let Some(holder) = self.holder.clone() else {
                    self.bad += 1;
                    bad(server, tag, "Authenticate first");
                    return Flow::Go;
                };
                if let Err(e) = self.authenticated(server, &holder, tag.clone(), body).await {
                    self.internal(server, tag, e);
                }
            }
        }
        Flow::Go
    }

    async fn authenticated(
        &mut self,
        server: &mut Server,
        holder: &Holder,
        tag: Tag<'static>,
        body: CommandBody<'static>,
    ) -> Result<(), hygie_core::StoreError> {
        let ok = |server: &mut Server, tag: Tag<'static>, code: Option<Code<'static>>, t: &str| {
            server.enqueue_status(tagged(tag, StatusKind::Ok, code, t));
        };
        let no = |server: &mut Server, tag: Tag<'static>, code: Option<Code<'static>>, t: &str| {
            server.enqueue_status(tagged(tag, StatusKind::No, code, t));
        };
        let mailbox = self.mailbox(holder);
        match body {
            CommandBody::Namespace => {
                let personal = vec![Namespace {
                    prefix: IString::try_from("").unwrap_or_else(|_| IString::try_from("\"\"").expect("quoted")),
                    delimiter: QuotedChar::try_from(names::DELIMITER).ok(),
                    extensions: Vec::new(),
                }];
                server.enqueue_data(Data::Namespace { personal, other: Vec::new(), shared: Vec::new() });
                ok(server, tag, None, "NAMESPACE completed");
            }
            CommandBody::Enable { .. } => {
                server.enqueue_data(Data::Enabled { capabilities: Vec::new() });
                ok(server, tag, None, "ENABLE completed");
            }
            CommandBody::List { reference, mailbox_wildcard } | CommandBody::Lsub { reference, mailbox_wildcard } => {
                let reference = name_of(&reference).unwrap_or_default();
                let reference = if reference.eq_ignore_ascii_case("INBOX") { String::new() } else { reference };
                let pattern = match &mailbox_wildcard {
                    ListMailbox::Token(t) => String::from_utf8_lossy(t.as_ref()).to_string(),
                    ListMailbox::String(s) => String::from_utf8_lossy(s.as_ref()).to_string(),
                };
                let pattern = names::decode(&pattern).unwrap_or(pattern);
                if pattern.is_empty() {
                    server.enqueue_data(Data::List {
                        items: vec![FlagNameAttribute::Noselect],
                        delimiter: QuotedChar::try_from(names::DELIMITER).ok(),
                        mailbox: ImapName::try_from("").unwrap_or(ImapName::Inbox),
                    });
                } else {
                    let full = format!("{reference}{pattern}");
                    let folders = mailbox.imap_folders().await?;
                    for (name, f) in names::named(&folders) {
                        let matched = if f.role == "inbox" {
                            names::matches(&full.to_ascii_uppercase(), "INBOX")
                        } else {
                            names::matches(&full, &name)
                        };
                        if !matched {
                            continue;
                        }
                        let mut items = Vec::new();
                        if let Some((_, Some(special))) = names::standard(&f.role) {
                            items.push(FlagNameAttribute::from(atom(special)));
                        }
                        let children = folders.iter().any(|c| c.parent_id == Some(f.id));
                        items.push(FlagNameAttribute::from(atom(if children {
                            "HasChildren"
                        } else {
                            "HasNoChildren"
                        })));
                        let imap_name = if f.role == "inbox" {
                            ImapName::Inbox
                        } else {
                            match ImapName::try_from(names::encode(&name)) {
                                Ok(n) => n,
                                Err(_) => continue,
                            }
                        };
                        server.enqueue_data(Data::List {
                            items,
                            delimiter: QuotedChar::try_from(names::DELIMITER).ok(),
                            mailbox: imap_name,
                        });
                    }
                }
                ok(server, tag, None, "LIST completed");
            }
            CommandBody::Status { mailbox: name, item_names } => {
                let folders = mailbox.imap_folders().await?;
                let Some(f) = name_of(&name).and_then(|n| names::find(&folders, &n).cloned()) else {
                    no(server, tag, Some(other_code("NONEXISTENT")), "No such folder");
                    return Ok(());
                };
                let items: Vec<StatusDataItem> = item_names
                    .iter()
                    .filter_map(|i| match i {
                        StatusDataItemName::Messages => Some(StatusDataItem::Messages(f.total.max(0) as u32)),
                        StatusDataItemName::Recent => Some(StatusDataItem::Recent(0)),
                        StatusDataItemName::UidNext => Some(StatusDataItem::UidNext(nz(f.uidnext))),
                        StatusDataItemName::UidValidity => Some(StatusDataItem::UidValidity(nz(f.uidvalidity))),
                        StatusDataItemName::Unseen => Some(StatusDataItem::Unseen(f.unread.max(0) as u32)),
                        StatusDataItemName::Deleted => Some(StatusDataItem::Deleted(0)),
                        _ => None,
                    })
                    .collect();
                server.enqueue_data(Data::Status { mailbox: name, items: items.into() });
                ok(server, tag, None, "STATUS completed");
            }
            CommandBody::Select { mailbox: name, .. } => self.select(server, holder, tag, name, false).await?,
            CommandBody::Examine { mailbox: name, .. } => self.select(server, holder, tag, name, true).await?,
            CommandBody::Create { mailbox: name } => {
                let Some(full) = name_of(&name) else {
                    no(server, tag, None, "Invalid name");
                    return Ok(());
                };
                let full = full.trim_end_matches(names::DELIMITER).to_string();
                let folders = mailbox.imap_folders().await?;
                let (parent, leaf) = match full.rsplit_once(names::DELIMITER) {
                    Some((p, l)) => match names::find(&folders, p) {
                        Some(f) if f.role == "custom" => (Some(f.id), l.to_string()),
                        _ => {
                            no(
                                server,
                                tag,
                                Some(other_code("CANNOT")),
                                "Folders go at the top or in a folder of yours",
                            );
                            return Ok(());
                        }
                    },
                    None => (None, full.clone()),
                };
                if names::find(&folders, &full).is_some() {
                    no(server, tag, Some(other_code("ALREADYEXISTS")), "Folder exists already");
                    return Ok(());
                }
                match mailbox.create_folder(&leaf, parent).await {
                    Ok(_) => ok(server, tag, None, "CREATE completed"),
                    Err(hygie_core::mail::folders::FolderError::Store(e)) => return Err(e),
                    Err(e) => no(server, tag, Some(other_code("CANNOT")), &e.to_string()),
                }
            }
            CommandBody::Delete { mailbox: name } => {
                let folders = mailbox.imap_folders().await?;
                match name_of(&name).and_then(|n| names::find(&folders, &n).cloned()) {
                    Some(f) if f.role == "custom" => match mailbox.delete_folder(f.id).await {
                        Ok(_) => ok(server, tag, None, "DELETE completed; its messages are in the Trash"),
                        Err(hygie_core::mail::folders::FolderError::Store(e)) => return Err(e),
                        Err(e) => no(server, tag, Some(other_code("CANNOT")), &e.to_string()),
                    },
                    Some(_) => no(server, tag, Some(other_code("CANNOT")), "A standard folder stays"),
                    None => no(server, tag, Some(other_code("NONEXISTENT")), "No such folder"),
                }
            }
            CommandBody::Rename { from, to } => {
                let folders = mailbox.imap_folders().await?;
                let (Some(f), Some(to)) =
                    (name_of(&from).and_then(|n| names::find(&folders, &n).cloned()), name_of(&to))
                else {
                    no(server, tag, Some(other_code("NONEXISTENT")), "No such folder");
                    return Ok(());
                };
                let leaf = to.rsplit(names::DELIMITER).next().unwrap_or(&to).to_string();
                if f.role != "custom" {
                    no(server, tag, Some(other_code("CANNOT")), "A standard folder keeps its name");
                } else {
                    match mailbox.rename_folder(f.id, &leaf).await {
                        Ok(()) => ok(server, tag, None, "RENAME completed"),
                        Err(hygie_core::mail::folders::FolderError::Store(e)) => return Err(e),
                        Err(e) => no(server, tag, Some(other_code("CANNOT")), &e.to_string()),
                    }
                }
            }
            CommandBody::Subscribe { .. } | CommandBody::Unsubscribe { .. } => {
                ok(server, tag, None, "Every folder is subscribed")
            }
            CommandBody::Append { mailbox: name, flags, date, message } => {
                let bytes = match &message {
                    LiteralOrLiteral8::Literal(l) => l.as_ref().to_vec(),
                    LiteralOrLiteral8::Literal8(l) => l.data.to_vec(),
                };
                let folders = mailbox.imap_folders().await?;
                let Some(f) = name_of(&name).and_then(|n| names::find(&folders, &n).cloned()) else {
                    no(server, tag, Some(Code::TryCreate), "No such folder");
                    return Ok(());
                };
                let date_ms = date.map(|d| d.as_ref().timestamp_millis());
                let seen = flags.contains(&Flag::Seen);
                let flagged = flags.contains(&Flag::Flagged);
                let appended = mailbox.imap_append(&f.key, &bytes, seen, flagged, date_ms).await;
                // The selected folder's news (the new message's EXISTS, or the EXPUNGE of a held
                // message moved by the APPEND) before the tagged answer, where clients wait for it.
                if self.selected.is_some() {
                    self.updates(server).await;
                }
                match appended {
                    Ok(Some(a)) => ok(
                        server,
                        tag,
                        Some(Code::AppendUid { uid_validity: nz(a.uidvalidity), uid: nz(a.uid) }),
                        "APPEND completed",
                    ),
                    Ok(None) => ok(server, tag, None, "APPEND completed: the mailbox holds this message already"),
                    Err(AppendError::NoFolder) => no(server, tag, Some(Code::TryCreate), "No such folder"),
                    Err(AppendError::NotAMessage) => no(server, tag, Some(Code::Parse), "Not a message"),
                    Err(AppendError::Refused(MailError::TooLarge { .. })) => {
                        no(server, tag, Some(Code::TooBig), "Message too large")
                    }
                    Err(AppendError::Refused(MailError::QuotaExceeded { .. })) => {
                        no(server, tag, Some(Code::OverQuota), "Mailbox full")
                    }
                    Err(AppendError::Refused(MailError::RateLimited { .. })) => {
                        no(server, tag, Some(other_code("LIMIT")), "Too many messages: try again later")
                    }
                    Err(AppendError::Refused(MailError::Store(e))) => return Err(e),
                }
            }
            body => return self.selected_command(server, holder, tag, body).await,
        }
        Ok(())
    }

    async fn select(
        &mut self,
        server: &mut Server,
        holder: &Holder,
        tag: Tag<'static>,
        name: ImapName<'static>,
        read_only: bool,
    ) -> Result<(), hygie_core::StoreError> {
        self.selected = None;
        let mailbox = self.mailbox(holder);
        let folders = mailbox.imap_folders().await?;
        let Some(folder) = name_of(&name).and_then(|n| names::find(&folders, &n).cloned()) else {
            server.enqueue_status(tagged(tag, StatusKind::No, Some(other_code("NONEXISTENT")), "No such folder"));
            return Ok(());
        };
        let msgs = mailbox.imap_messages(folder.id).await?;
        let uidnext = folder.uidnext.max(msgs.last().map_or(1, |m| m.uid as u32 + 1));
        let permanent: Vec<FlagPerm<'static>> =
            if read_only { Vec::new() } else { vec![Flag::Seen.into(), Flag::Flagged.into(), Flag::Deleted.into()] };
        server.enqueue_data(Data::Flags(vec![Flag::Seen, Flag::Flagged, Flag::Deleted, Flag::Draft, Flag::Answered]));
        server.enqueue_data(Data::Exists(msgs.len() as u32));
        server.enqueue_data(Data::Recent(0));
        server.enqueue_status(untagged(Some(Code::UidValidity(nz(folder.uidvalidity))), "UIDs valid"));
        server.enqueue_status(untagged(Some(Code::UidNext(nz(uidnext))), "Predicted next UID"));
        server.enqueue_status(untagged(Some(Code::PermanentFlags(permanent)), "Flags kept"));
        if let Some(first) = msgs.iter().position(|m| m.unread) {
            server.enqueue_status(untagged(Some(Code::Unseen(nz(first as u32 + 1))), "First unseen"));
        }
        let code = if read_only { Code::ReadOnly } else { Code::ReadWrite };
        let modseq = folder.modseq;
        self.selected = Some(Selected { folder, read_only, msgs, deleted: HashSet::new(), modseq });
        server.enqueue_status(tagged(tag, StatusKind::Ok, Some(code), "SELECT completed"));
        Ok(())
    }

    /// Tells the client what changed in the selected folder since it last heard: messages gone
    /// (EXPUNGE, from the highest number down), flags changed (FETCH), new ones (EXISTS).
    async fn updates(&mut self, server: &mut Server) {
        let (Some(holder), Some(sel)) = (self.holder.clone(), self.selected.as_ref()) else { return };
        let folder_id = sel.folder.id;
        let mailbox = self.mailbox(&holder);
        let (modseq, now) = match (mailbox.imap_modseq(folder_id).await, mailbox.imap_messages(folder_id).await) {
            (Ok(Some(m)), Ok(now)) => (m, now),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "IMAP folder refresh failed");
                return;
            }
            (Ok(None), _) => return,
        };
        let Some(sel) = self.selected.as_mut() else { return };
        sel.modseq = modseq;
        let by_uid: HashMap<i64, &ImapMessage> = now.iter().map(|m| (m.uid, m)).collect();
        for i in (0..sel.msgs.len()).rev() {
            if !by_uid.contains_key(&sel.msgs[i].uid) {
                sel.deleted.remove(&sel.msgs[i].id);
                sel.msgs.remove(i);
                server.enqueue_data(Data::Expunge(nz(i as u32 + 1)));
            }
        }
        let draft = sel.draft();
        for (i, m) in sel.msgs.iter_mut().enumerate() {
            if let Some(n) = by_uid.get(&m.uid) {
                if n.unread != m.unread || n.flagged != m.flagged {
                    *m = **n;
                    let items = vec![
                        MessageDataItem::Flags(flags_of(m, sel.deleted.contains(&m.id), draft)),
                        MessageDataItem::Uid(nz(m.uid as u32)),
                    ];
                    if let Ok(items) = Vec1::try_from(items) {
                        server.enqueue_data(Data::Fetch { seq: nz(i as u32 + 1), items });
                    }
                }
            }
        }
        let last = sel.msgs.last().map_or(0, |m| m.uid);
        let before = sel.msgs.len();
        sel.msgs.extend(now.into_iter().filter(|m| m.uid > last));
        if sel.msgs.len() != before {
            server.enqueue_data(Data::Exists(sel.msgs.len() as u32));
        }
    }

    /// While IDLE: one cheap read of the folder's counter; the folder only when it moved.
    async fn idle_check(&mut self, server: &mut Server) {
        let (Some(holder), Some(sel)) = (self.holder.clone(), self.selected.as_ref()) else { return };
        let (folder_id, known) = (sel.folder.id, sel.modseq);
        let current = self.mailbox(&holder).imap_modseq(folder_id).await;
        if let Ok(Some(m)) = current {
            if m != known {
                self.updates(server).await;
            }
        }
    }

    async fn selected_command(
        &mut self,
        server: &mut Server,
        holder: &Holder,
        tag: Tag<'static>,
        body: CommandBody<'static>,
    ) -> Result<(), hygie_core::StoreError> {
        let Some(sel) = self.selected.as_ref() else {
            self.bad += 1;
            server.enqueue_status(tagged(
                tag,
                StatusKind::Bad,
                None,
                "Select a folder first (or command not supported)",
            ));
            return Ok(());
        };
        let ok = |server: &mut Server, tag: Tag<'static>, code: Option<Code<'static>>, t: &str| {
            server.enqueue_status(tagged(tag, StatusKind::Ok, code, t));
        };
        let no = |server: &mut Server, tag: Tag<'static>, code: Option<Code<'static>>, t: &str| {
            server.enqueue_status(tagged(tag, StatusKind::No, code, t));
        };
        let read_only = sel.read_only;
        let mailbox = self.mailbox(holder);
        match body {
            CommandBody::Unselect => {
                self.selected = None;
                ok(server, tag, None, "UNSELECT completed");
            }
            CommandBody::Close => {
                if !read_only {
                    self.expunge(server, holder, None, false).await?;
                }
                self.selected = None;
                ok(server, tag, None, "CLOSE completed");
            }
            CommandBody::Expunge | CommandBody::ExpungeUid { .. } if read_only => {
                no(server, tag, None, "Folder is read-only")
            }
            CommandBody::Expunge => {
                self.expunge(server, holder, None, true).await?;
                ok(server, tag, None, "EXPUNGE completed");
            }
            CommandBody::ExpungeUid { sequence_set } => {
                self.expunge(server, holder, Some(sequence_set), true).await?;
                ok(server, tag, None, "EXPUNGE completed");
            }
            CommandBody::Fetch { sequence_set, macro_or_item_names, uid, .. } => {
                self.fetch(server, holder, tag, &sequence_set, macro_or_item_names, uid).await?;
            }
            CommandBody::Store { .. } if read_only => no(server, tag, None, "Folder is read-only"),
            CommandBody::Store { sequence_set, kind, response, flags, uid, .. } => {
                self.store(server, holder, &sequence_set, kind, response, &flags, uid).await?;
                ok(server, tag, None, "STORE completed");
            }
            CommandBody::Search { criteria, uid, .. } => {
                let found = self.search(holder, criteria.as_ref(), uid).await;
                match found {
                    Ok(found) => {
                        server.enqueue_data(Data::Search(found));
                        ok(server, tag, None, "SEARCH completed");
                    }
                    Err(MailError::RateLimited { .. }) => {
                        no(server, tag, Some(other_code("LIMIT")), "Too many searches: try again later")
                    }
                    Err(MailError::Store(e)) => return Err(e),
                    Err(e) => no(server, tag, None, &e.to_string()),
                }
            }
            CommandBody::Copy { .. } => no(
                server,
                tag,
                Some(other_code("CANNOT")),
                "Hygie keeps one copy of each message: use MOVE (or APPEND)",
            ),
            CommandBody::Move { .. } if read_only => no(server, tag, None, "Folder is read-only"),
            CommandBody::Move { sequence_set, mailbox: target, uid } => {
                let folders = mailbox.imap_folders().await?;
                let Some(target) = name_of(&target).and_then(|n| names::find(&folders, &n).cloned()) else {
                    no(server, tag, Some(Code::TryCreate), "No such folder");
                    return Ok(());
                };
                let action = match target.role.as_str() {
                    "trash" => Action::Trash,
                    "inbox" => Action::MoveTo("inbox"),
                    "archive" => Action::MoveTo("archive"),
                    "custom" => Action::MoveToFolder(target.id),
                    _ => {
                        no(server, tag, Some(other_code("CANNOT")), "Messages are not moved into Sent or Drafts");
                        return Ok(());
                    }
                };
                let positions = sel.positions(&sequence_set, uid);
                let ids: Vec<i64> = positions.iter().map(|&i| sel.msgs[i].id).collect();
                if target.id != sel.folder.id && !ids.is_empty() {
                    mailbox.apply(&ids, action).await?;
                    let moved: HashMap<i64, i64> = mailbox.imap_uids_of(target.id, &ids).await?.into_iter().collect();
                    let (src, dst): (Vec<u32>, Vec<u32>) = positions
                        .iter()
                        .filter_map(|&i| Some((sel.msgs[i].uid as u32, *moved.get(&sel.msgs[i].id)? as u32)))
                        .unzip();
                    if let (Some(source), Some(destination)) = (uid_set(&src), uid_set(&dst)) {
                        server.enqueue_status(untagged(
                            Some(Code::CopyUid { uid_validity: nz(target.uidvalidity), source, destination }),
                            "Moved",
                        ));
                    }
                    self.updates(server).await;
                }
                ok(server, tag, None, "MOVE completed");
            }
            _ => {
                self.bad += 1;
                server.enqueue_status(tagged(tag, StatusKind::Bad, None, "Command not supported"));
            }
        }
        Ok(())
    }

    /// The messages marked `\Deleted` (among `only`) go to the Trash, or out of the mailbox
    /// when they are in the Trash: the webmail's delete, through the same verb.
    async fn expunge(
        &mut self,
        server: &mut Server,
        holder: &Holder,
        only: Option<SequenceSet>,
        tell: bool,
    ) -> Result<(), hygie_core::StoreError> {
        let Some(sel) = self.selected.as_ref() else { return Ok(()) };
        let allowed: Option<HashSet<usize>> = only.map(|set| sel.positions(&set, true).into_iter().collect());
        let ids: Vec<i64> = sel
            .msgs
            .iter()
            .enumerate()
            .filter(|(i, m)| sel.deleted.contains(&m.id) && allowed.as_ref().is_none_or(|a| a.contains(i)))
            .map(|(_, m)| m.id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let action = if sel.folder.role == "trash" { Action::DeleteForever } else { Action::Trash };
        self.mailbox(holder).apply(&ids, action).await?;
        if tell {
            self.updates(server).await;
        }
        Ok(())
    }

    /// FETCH: answered at once, or part by part when it is large (see [`PendingFetch`]); the
    /// tagged answer follows the last part.
    #[allow(clippy::too_many_arguments)]
    async fn fetch(
        &mut self,
        server: &mut Server,
        holder: &Holder,
        tag: Tag<'static>,
        set: &SequenceSet,
        items: MacroOrMessageDataItemNames<'static>,
        uid: bool,
    ) -> Result<(), hygie_core::StoreError> {
        let Some(sel) = self.selected.as_ref() else { return Ok(()) };
        use MessageDataItemName as N;
        let mut names: Vec<N<'static>> = match items {
            MacroOrMessageDataItemNames::Macro(Macro::Fast) => vec![N::Flags, N::InternalDate, N::Rfc822Size],
            MacroOrMessageDataItemNames::Macro(Macro::All) => {
                vec![N::Flags, N::InternalDate, N::Rfc822Size, N::Envelope]
            }
            MacroOrMessageDataItemNames::Macro(Macro::Full) => {
                vec![N::Flags, N::InternalDate, N::Rfc822Size, N::Envelope, N::Body]
            }
            MacroOrMessageDataItemNames::MessageDataItemNames(v) => v,
            _ => vec![N::Flags],
        };
        if uid && !names.contains(&N::Uid) {
            names.insert(0, N::Uid);
        }
        let positions = sel.positions(set, uid);
        self.fetch_parts(server, holder, tag, names, positions).await
    }

    /// Answers the next parts of a FETCH: until one is queued and more remain (then kept in
    /// [`Self::fetching`] until it has been written), or the last, followed by the tagged OK.
    async fn fetch_parts(
        &mut self,
        server: &mut Server,
        holder: &Holder,
        tag: Tag<'static>,
        names: Vec<MessageDataItemName<'static>>,
        mut rest: Vec<usize>,
    ) -> Result<(), hygie_core::StoreError> {
        loop {
            let Some(sel) = self.selected.as_ref() else { return Ok(()) };
            let with_text = fetch_reads_raw(&names);
            let (mut n, mut bytes) = (0, 0i64);
            while n < rest.len() && n < FETCH_PART_MESSAGES {
                let size = if with_text { sel.msgs[rest[n]].size } else { 0 };
                if n > 0 && bytes + size > FETCH_PART_BYTES {
                    break;
                }
                bytes += size;
                n += 1;
            }
            let later = rest.split_off(n);
            let last = self.fetch_part(server, holder, &names, &rest).await?;
            rest = later;
            match last {
                _ if rest.is_empty() => {
                    server.enqueue_status(tagged(tag, StatusKind::Ok, None, "FETCH completed"));
                    return Ok(());
                }
                Some(waiting) => {
                    self.fetching = Some(PendingFetch { tag, names, rest, waiting });
                    return Ok(());
                }
                None => continue,
            }
        }
    }

    /// The last part of a FETCH has been written: the next one.
    async fn fetch_more(&mut self, server: &mut Server) {
        let (Some(p), Some(holder)) = (self.fetching.take(), self.holder.clone()) else { return };
        let tag = p.tag.clone();
        if let Err(e) = self.fetch_parts(server, &holder, p.tag, p.names, p.rest).await {
            self.internal(server, tag, e);
        }
    }

    /// Answers the messages at `positions`; returns the handle of the last response queued.
    async fn fetch_part(
        &mut self,
        server: &mut Server,
        holder: &Holder,
        names: &[MessageDataItemName<'static>],
        positions: &[usize],
    ) -> Result<Option<ResponseHandle>, hygie_core::StoreError> {
        let Some(sel) = self.selected.as_ref() else { return Ok(None) };
        use MessageDataItemName as N;
        let needs_raw = fetch_reads_raw(names);
        let content = |n: &N| match n {
            N::Rfc822 | N::Rfc822Text => true,
            N::BodyExt { section, .. } => !matches!(
                section,
                Some(Section::Header(None) | Section::HeaderFields(None, _) | Section::HeaderFieldsNot(None, _))
            ),
            _ => false,
        };
        let reads = names.iter().any(content);
        let marks_seen = !sel.read_only
            && names.iter().any(|n| matches!(n, N::Rfc822 | N::Rfc822Text | N::BodyExt { peek: false, .. }));
        let mailbox = self.mailbox(holder);
        let ids: Vec<i64> = positions.iter().map(|&i| sel.msgs[i].id).collect();
        let unread: Vec<i64> = positions.iter().filter(|&&i| sel.msgs[i].unread).map(|&i| sel.msgs[i].id).collect();
        // Reading a body without PEEK opens the message as the webmail does: marked read in the
        // transaction of its `mail.open` record. Only headers without PEEK: marked read on its own.
        let opened: &[i64] = if marks_seen && reads { &unread } else { &[] };
        let raws: HashMap<i64, Vec<u8>> = if needs_raw && !ids.is_empty() {
            mailbox.imap_read(&ids, reads, opened).await?.into_iter().map(|r| (r.id, r.raw)).collect()
        } else {
            HashMap::new()
        };
        let mut seen_now = HashSet::new();
        if marks_seen && !unread.is_empty() {
            if opened.is_empty() {
                mailbox.apply(&unread, Action::MarkRead).await?;
            }
            seen_now.extend(unread);
        }
        let Some(sel) = self.selected.as_mut() else { return Ok(None) };
        let draft = sel.draft();
        let mut last = None;
        for &i in positions {
            let m = &mut sel.msgs[i];
            let mut flags_asked = names.contains(&N::Flags);
            if seen_now.contains(&m.id) {
                m.unread = false;
                flags_asked = true;
            }
            let m = *m;
            let raw = raws.get(&m.id).map(Vec::as_slice).unwrap_or_default();
            let parsed = if needs_raw { fetch::parse(raw) } else { None };
            let mut out: Vec<MessageDataItem<'static>> = Vec::new();
            for n in names {
                let item = match n {
                    N::Uid => MessageDataItem::Uid(nz(m.uid as u32)),
                    N::Flags => continue,
                    N::InternalDate => match internal_date(m.date_ms) {
                        Some(d) => MessageDataItem::InternalDate(d),
                        None => continue,
                    },
                    N::Rfc822Size => MessageDataItem::Rfc822Size(m.size as u32),
                    N::Envelope => match &parsed {
                        Some(p) => MessageDataItem::Envelope(fetch::envelope(p)),
                        None => continue,
                    },
                    N::BodyStructure | N::Body => {
                        let Some(p) = &parsed else { continue };
                        let bs = fetch::body_structure(p);
                        if matches!(n, N::Body) {
                            MessageDataItem::Body(bs)
                        } else {
                            MessageDataItem::BodyStructure(bs)
                        }
                    }
                    N::Rfc822 => MessageDataItem::Rfc822(fetch::partial(raw.to_vec(), None).0),
                    N::Rfc822Header => MessageDataItem::Rfc822Header(
                        fetch::partial(fetch::section(raw, Some(&Section::Header(None))).unwrap_or_default(), None).0,
                    ),
                    N::Rfc822Text => MessageDataItem::Rfc822Text(
                        fetch::partial(fetch::section(raw, Some(&Section::Text(None))).unwrap_or_default(), None).0,
                    ),
                    N::BodyExt { section, partial, .. } => {
                        let bytes = fetch::section(raw, section.as_ref()).unwrap_or_default();
                        let (data, origin) = fetch::partial(bytes, *partial);
                        MessageDataItem::BodyExt { section: section.clone(), origin, data }
                    }
                    _ => continue,
                };
                out.push(item);
            }
            if flags_asked {
                out.push(MessageDataItem::Flags(flags_of(&m, sel.deleted.contains(&m.id), draft)));
            }
            if let Ok(items) = Vec1::try_from(out) {
                last = Some(server.enqueue_data(Data::Fetch { seq: nz(i as u32 + 1), items }));
            }
        }
        Ok(last)
    }

    #[allow(clippy::too_many_arguments)]
    async fn store(
        &mut self,
        server: &mut Server,
        holder: &Holder,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[Flag<'static>],
        uid: bool,
    ) -> Result<(), hygie_core::StoreError> {
        let Some(sel) = self.selected.as_ref() else { return Ok(()) };
        let positions = sel.positions(set, uid);
        let ids: Vec<i64> = positions.iter().map(|&i| sel.msgs[i].id).collect();
        let has = |f: &Flag| flags.contains(f);
        // Each flag Hygie keeps: whether to set it (Some(true)), clear it, or leave it.
        let want = |f: Flag| match kind {
            StoreType::Add => has(&f).then_some(true),
            StoreType::Remove => has(&f).then_some(false),
            StoreType::Replace => Some(has(&f)),
        };
        let (seen, flagged, deleted) = (want(Flag::Seen), want(Flag::Flagged), want(Flag::Deleted));
        let mailbox = self.mailbox(holder);
        if !ids.is_empty() {
            // Both flags in one transaction, each recorded as the webmail records it.
            let mut read = (Action::MarkRead, Vec::new());
            if let Some(seen) = seen {
                read.0 = if seen { Action::MarkRead } else { Action::MarkUnread };
                read.1 = positions.iter().filter(|&&i| sel.msgs[i].unread == seen).map(|&i| sel.msgs[i].id).collect();
            }
            let mut flag = (Action::Flag, Vec::new());
            if let Some(f) = flagged {
                flag.0 = if f { Action::Flag } else { Action::Unflag };
                flag.1 = positions.iter().filter(|&&i| sel.msgs[i].flagged != f).map(|&i| sel.msgs[i].id).collect();
            }
            mailbox.apply_all(&[(read.0, &read.1[..]), (flag.0, &flag.1[..])]).await?;
        }
        let Some(sel) = self.selected.as_mut() else { return Ok(()) };
        let draft = sel.draft();
        for &i in &positions {
            let m = &mut sel.msgs[i];
            if let Some(seen) = seen {
                m.unread = !seen;
            }
            if let Some(flag) = flagged {
                m.flagged = flag;
            }
            match deleted {
                Some(true) => {
                    sel.deleted.insert(m.id);
                }
                Some(false) => {
                    sel.deleted.remove(&m.id);
                }
                None => {}
            }
            if response == StoreResponse::Answer {
                let mut items = vec![MessageDataItem::Flags(flags_of(m, sel.deleted.contains(&m.id), draft))];
                if uid {
                    items.push(MessageDataItem::Uid(nz(m.uid as u32)));
                }
                if let Ok(items) = Vec1::try_from(items) {
                    server.enqueue_data(Data::Fetch { seq: nz(i as u32 + 1), items });
                }
            }
        }
        Ok(())
    }

    /// SEARCH over the session's snapshot; words, senders, recipients and subjects through the
    /// full-text index ([`Mailbox::search_ids`]: every match, recorded).
    async fn search(
        &mut self,
        holder: &Holder,
        criteria: &[SearchKey<'static>],
        uid: bool,
    ) -> Result<Vec<NonZeroU32>, MailError> {
        let Some(sel) = self.selected.as_ref() else { return Ok(Vec::new()) };
        // Every key that needs the index, searched once.
        let mut text_keys = Vec::new();
        fn collect<'k>(k: &'k SearchKey<'static>, out: &mut Vec<&'k SearchKey<'static>>) {
            match k {
                SearchKey::And(v) => v.as_ref().iter().for_each(|k| collect(k, out)),
                SearchKey::Not(k) => collect(k, out),
                SearchKey::Or(a, b) => {
                    collect(a, out);
                    collect(b, out);
                }
                SearchKey::Text(_)
                | SearchKey::Body(_)
                | SearchKey::From(_)
                | SearchKey::Subject(_)
                | SearchKey::To(_)
                | SearchKey::Cc(_) => out.push(k),
                _ => {}
            }
        }
        criteria.iter().for_each(|k| collect(k, &mut text_keys));
        let mailbox = self.mailbox(holder);
        let mut found: HashMap<String, HashSet<i64>> = HashMap::new();
        for k in text_keys {
            let key = format!("{k:?}");
            if found.contains_key(&key) {
                continue;
            }
            let word = |a: &imap_codec::imap_types::core::AString| String::from_utf8_lossy(a.as_ref()).to_lowercase();
            let mut q = SearchQuery::default();
            match k {
                SearchKey::Text(a) | SearchKey::Body(a) => {
                    q.words = word(a).split_whitespace().map(str::to_string).collect()
                }
                SearchKey::From(a) => q.from = vec![word(a)],
                SearchKey::Subject(a) => q.subject = word(a).split_whitespace().map(str::to_string).collect(),
                SearchKey::To(a) | SearchKey::Cc(a) => q.to = vec![word(a)],
                _ => continue,
            }
            let ids = mailbox.search_ids(&q, Some(&sel.folder.key)).await?;
            found.insert(key, ids.into_iter().collect());
        }
        let largest_uid = sel.msgs.last().map_or(0, |m| m.uid as u32);
        let count = sel.msgs.len() as u32;
        let deleted = &sel.deleted;
        let draft = sel.draft();
        fn eval(
            k: &SearchKey<'static>,
            i: usize,
            m: &ImapMessage,
            ctx: &(HashMap<String, HashSet<i64>>, u32, u32, &HashSet<i64>, bool),
        ) -> bool {
            let (found, largest_uid, count, deleted, draft) = ctx;
            match k {
                SearchKey::All => true,
                SearchKey::And(v) => v.as_ref().iter().all(|k| eval(k, i, m, ctx)),
                SearchKey::Not(k) => !eval(k, i, m, ctx),
                SearchKey::Or(a, b) => eval(a, i, m, ctx) || eval(b, i, m, ctx),
                SearchKey::SequenceSet(s) => in_set(s, i as u32 + 1, *count),
                SearchKey::Uid(s) => in_set(s, m.uid as u32, *largest_uid),
                SearchKey::Seen => !m.unread,
                SearchKey::Unseen => m.unread,
                SearchKey::Flagged => m.flagged,
                SearchKey::Unflagged => !m.flagged,
                SearchKey::Deleted => deleted.contains(&m.id),
                SearchKey::Undeleted => !deleted.contains(&m.id),
                SearchKey::Draft => *draft,
                SearchKey::Undraft => !*draft,
                SearchKey::Answered | SearchKey::Recent | SearchKey::New | SearchKey::Keyword(_) => false,
                SearchKey::Unanswered | SearchKey::Old | SearchKey::Unkeyword(_) => true,
                SearchKey::Since(d) | SearchKey::SentSince(d) => m.date_ms >= day_ms(d),
                SearchKey::Before(d) | SearchKey::SentBefore(d) => m.date_ms < day_ms(d),
                SearchKey::On(d) | SearchKey::SentOn(d) => (day_ms(d)..day_ms(d) + 86_400_000).contains(&m.date_ms),
                SearchKey::Larger(n) => m.size > *n as i64,
                SearchKey::Smaller(n) => m.size < *n as i64,
                k @ (SearchKey::Text(_)
                | SearchKey::Body(_)
                | SearchKey::From(_)
                | SearchKey::Subject(_)
                | SearchKey::To(_)
                | SearchKey::Cc(_)) => found.get(&format!("{k:?}")).is_some_and(|s| s.contains(&m.id)),
                _ => false,
            }
        }
        let ctx = (found, largest_uid, count, deleted, draft);
        Ok(sel
            .msgs
            .iter()
            .enumerate()
            .filter(|(i, m)| criteria.iter().all(|k| eval(k, *i, m, &ctx)))
            .map(|(i, m)| nz(if uid { m.uid as u32 } else { i as u32 + 1 }))
            .collect())
    }
}
