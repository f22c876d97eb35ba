//! One SMTP, LMTP or submission session: commands parsed by `smtp-proto` (pipelined: every
//! command of a packet is answered, then the answers leave together), the message read with its
//! dot-unstuffing, STARTTLS, AUTH for submission, and the core verb's answer sent only once it
//! is committed.

use std::sync::Arc;

use base64::Engine as _;
use hygie_core::auth::holder::Holder;
use hygie_core::auth::oauth;
use hygie_core::mail::delivery::{Channel, Envelope};
use hygie_core::mail::Mailbox;
use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver, RequestReceiver};
use smtp_proto::{Error as ParseError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::reply::{self, Reply};
use super::Shared;

/// After this many refused commands (5xx) the session is closed.
const MAX_ERRORS: u32 = 20;
/// Bytes read at a time.
const READ_CHUNK: usize = 64 * 1024;

/// An SMTP session on TCP: plain text, then (after STARTTLS) over TLS; or over TLS from the
/// first byte (implicit TLS submission).
pub(super) async fn run_tcp(stream: TcpStream, peer_ip: String, shared: &Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut session = Session::new(shared, peer_ip, stop);
    let mut stream = stream;
    let greet = if shared.implicit_tls {
        true
    } else {
        match session.serve(&mut stream, true).await {
            Ok(Ended::StartTls) => false,
            _ => return,
        }
    };
    let Some(acceptor) = shared.tls.clone() else { return };
    let handshake = tokio::time::timeout(shared.settings.command_timeout, acceptor.accept(stream)).await;
    let mut tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "SMTP TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    session.after_tls();
    let _ = session.serve(&mut tls, greet).await;
    let _ = tls.shutdown().await;
}

/// A session that stays unencrypted (LMTP on a Unix socket).
pub(super) async fn run_plain<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: String,
    shared: &Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let mut session = Session::new(shared, peer, stop);
    let _ = session.serve(&mut stream, true).await;
    let _ = stream.shutdown().await;
}

enum Ended {
    /// The peer asked for TLS: the caller upgrades the connection and serves on.
    StartTls,
    Closed,
}

enum Next {
    Continue,
    Data,
    StartTls,
    /// AUTH on submission: the exchange may need more lines from the client.
    Auth {
        mechanism: u64,
        initial: String,
    },
    Quit,
}

/// The holder a submission session acts for, and the token that proved it (asked again for
/// each message: a token withdrawn or expired meanwhile stops the session's sending).
struct Authed {
    holder: Holder,
    token: String,
}

struct Session<'a> {
    shared: &'a Shared,
    stop: watch::Receiver<bool>,
    env: Envelope,
    greeted: bool,
    in_mail: bool,
    /// The size the peer announced with MAIL (SIZE=), 0 when it did not.
    declared_size: i64,
    errors: u32,
    receiver: RequestReceiver,
    /// What was read and not yet consumed, from `pos`.
    buf: Vec<u8>,
    pos: usize,
    /// Replies waiting to leave (pipelining: sent when the packet's commands are answered).
    out: Vec<u8>,
    /// Submission: who authenticated.
    authed: Option<Authed>,
}

impl<'a> Session<'a> {
    fn new(shared: &'a Shared, peer_ip: String, stop: watch::Receiver<bool>) -> Session<'a> {
        Session {
            shared,
            stop,
            env: Envelope {
                channel: shared.channel,
                peer_ip,
                helo: String::new(),
                tls: false,
                mail_from: String::new(),
                recipients: Vec::new(),
                checked: Default::default(),
            },
            greeted: false,
            in_mail: false,
            declared_size: 0,
            errors: 0,
            receiver: RequestReceiver::default(),
            buf: Vec::with_capacity(READ_CHUNK),
            pos: 0,
            out: Vec::new(),
            authed: None,
        }
    }

    fn lmtp(&self) -> bool {
        self.shared.channel == Channel::Lmtp
    }

    fn submission(&self) -> Option<&super::Submission> {
        self.shared.submission.as_ref()
    }

    /// TLS is up: everything learnt before it is forgotten (RFC 3207 §4.2), including any
    /// plain text the peer sent after STARTTLS (already discarded) and its EHLO.
    fn after_tls(&mut self) {
        self.env.tls = true;
        self.env.helo.clear();
        self.greeted = false;
        self.reset();
    }

    fn reset(&mut self) {
        self.in_mail = false;
        self.declared_size = 0;
        self.env.reset();
    }

    fn reply(&mut self, r: Reply) {
        if r.code >= 500 {
            self.errors += 1;
        }
        r.write_to(&mut self.out);
    }

    fn line(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    async fn flush<S: AsyncWrite + Unpin>(&mut self, stream: &mut S) -> std::io::Result<()> {
        if !self.out.is_empty() {
            stream.write_all(&self.out).await?;
            self.out.clear();
        }
        stream.flush().await
    }

    /// Reads more into the buffer: `Ok(false)` when the session must end (the peer left, was
    /// silent too long, or Hygie is stopping; the peer was told).
    async fn read_more<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        deadline: Option<Instant>,
    ) -> std::io::Result<bool> {
        if self.pos >= self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        if *self.stop.borrow() {
            self.line("421 4.3.2 Service shutting down, try again later");
            self.flush(stream).await?;
            return Ok(false);
        }
        let mut wait = self.shared.settings.command_timeout;
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(Instant::now()));
        }
        self.buf.reserve(READ_CHUNK);
        tokio::select! {
            _ = self.stop.changed() => {
                self.line("421 4.3.2 Service shutting down, try again later");
                self.flush(stream).await?;
                Ok(false)
            }
            read = tokio::time::timeout(wait, stream.read_buf(&mut self.buf)) => match read {
                Ok(Ok(0)) => Ok(false),
                Ok(Ok(_)) => Ok(true),
                Ok(Err(e)) => Err(e),
                Err(_) => {
                    self.line("421 4.4.2 Timeout, closing connection");
                    self.flush(stream).await?;
                    Ok(false)
                }
            },
        }
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        greet: bool,
    ) -> std::io::Result<Ended> {
        if greet {
            let kind = if self.lmtp() { "LMTP" } else { "ESMTP" };
            let greeting = format!("220 {} {kind} Hygie ready", self.shared.settings.hostname);
            self.line(&greeting);
            self.flush(stream).await?;
        }
        loop {
            while self.pos < self.buf.len() {
                let parsed = {
                    let mut bytes = self.buf[self.pos..].iter();
                    let before = bytes.len();
                    let parsed = self.receiver.ingest(&mut bytes).map(Request::into_owned);
                    self.pos += before - bytes.len();
                    parsed
                };
                let next = match parsed {
                    Err(ParseError::NeedsMoreData { .. }) => break,
                    Err(e) => {
                        self.reply(parse_error(&e));
                        Next::Continue
                    }
                    Ok(request) => self.command(request).await,
                };
                match next {
                    Next::Continue => {}
                    Next::Quit => {
                        self.flush(stream).await?;
                        return Ok(Ended::Closed);
                    }
                    Next::StartTls => {
                        // Whatever the peer sent after STARTTLS in clear is dropped unread: it
                        // must not be taken as said inside TLS.
                        self.buf.clear();
                        self.pos = 0;
                        self.receiver = RequestReceiver::default();
                        self.flush(stream).await?;
                        return Ok(Ended::StartTls);
                    }
                    Next::Data => {
                        self.flush(stream).await?;
                        if !self.receive(stream).await? {
                            return Ok(Ended::Closed);
                        }
                    }
                    Next::Auth { mechanism, initial } => {
                        if !self.authenticate(stream, mechanism, initial).await? {
                            return Ok(Ended::Closed);
                        }
                    }
                }
                if self.errors >= MAX_ERRORS {
                    self.line("421 4.7.0 Too many errors, closing connection");
                    self.flush(stream).await?;
                    return Ok(Ended::Closed);
                }
            }
            self.flush(stream).await?;
            if !self.read_more(stream, None).await? {
                return Ok(Ended::Closed);
            }
        }
    }

    async fn command(&mut self, request: Request<String>) -> Next {
        let lmtp = self.lmtp();
        match request {
            Request::Ehlo { host } if !lmtp => self.hello(host, true),
            Request::Helo { host } if !lmtp => self.hello(host, false),
            Request::Lhlo { host } if lmtp => self.hello(host, true),
            Request::Ehlo { .. } | Request::Helo { .. } => {
                self.reply(Reply::new(500, "5.5.1", "This is LMTP: use LHLO"))
            }
            Request::Lhlo { .. } => self.reply(Reply::new(500, "5.5.1", "This is SMTP: use EHLO")),
            Request::StartTls => {
                if self.env.tls {
                    self.reply(Reply::new(503, "5.5.1", "TLS already active"));
                } else if lmtp || self.shared.tls.is_none() {
                    self.reply(Reply::new(502, "5.5.1", "STARTTLS not available"));
                } else {
                    self.reset();
                    self.reply(Reply::new(220, "2.0.0", "Ready to start TLS"));
                    return Next::StartTls;
                }
            }
            Request::Mail { from } => self.mail(from).await,
            Request::Rcpt { to } => self.rcpt(to.address).await,
            Request::Data => {
                if !self.in_mail {
                    self.reply(Reply::new(503, "5.5.1", "Send MAIL first"));
                } else if self.env.recipients.is_empty() {
                    self.reply(Reply::new(554, "5.5.1", "No valid recipients"));
                } else {
                    self.line("354 End data with <CR><LF>.<CR><LF>");
                    return Next::Data;
                }
            }
            Request::Rset => {
                self.reset();
                self.reply(Reply::new(250, "2.0.0", "OK"));
            }
            Request::Noop { .. } => self.reply(Reply::new(250, "2.0.0", "OK")),
            Request::Quit => {
                self.reply(Reply::new(221, "2.0.0", "Bye"));
                return Next::Quit;
            }
            // Whether a mailbox exists is not said to whoever asks.
            Request::Vrfy { .. } => self.reply(Reply::new(252, "2.5.0", "Cannot VRFY user, send the message")),
            Request::Help { .. } => self.reply(Reply::new(214, "2.0.0", "See RFC 5321")),
            Request::Auth { mechanism, initial_response } if self.submission().is_some() => {
                return Next::Auth { mechanism, initial: initial_response };
            }
            Request::Auth { .. } => self.reply(Reply::new(502, "5.5.1", "No authentication on this service")),
            _ => self.reply(Reply::new(502, "5.5.1", "Command not implemented")),
        }
        Next::Continue
    }

    fn hello(&mut self, host: String, extended: bool) {
        self.reset();
        self.env.helo = host;
        self.greeted = true;
        let name = self.shared.settings.hostname.clone();
        if !extended {
            self.line(&format!("250 {name}"));
            return;
        }
        let mut lines = vec![
            format!("{name} Hygie"),
            "PIPELINING".into(),
            format!("SIZE {}", self.shared.settings.max_message_bytes),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        if !self.env.tls && !self.lmtp() && self.shared.tls.is_some() {
            lines.push("STARTTLS".into());
        }
        // Credentials only ever travel encrypted; and never a password (RFC 7628, XOAUTH2).
        if self.submission().is_some() && self.env.tls {
            lines.push("AUTH OAUTHBEARER XOAUTH2".into());
        }
        let last = lines.len() - 1;
        for (i, l) in lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            self.out.extend_from_slice(format!("250{sep}{l}\r\n").as_bytes());
        }
    }

    async fn mail(&mut self, from: smtp_proto::MailFrom<String>) {
        if !self.greeted {
            return self.reply(Reply::new(503, "5.5.1", "Send EHLO first"));
        }
        if self.shared.settings.require_tls && !self.env.tls && !self.lmtp() {
            return self.reply(Reply::new(530, "5.7.0", "Must issue a STARTTLS command first"));
        }
        if self.in_mail {
            return self.reply(Reply::new(503, "5.5.1", "Nested MAIL command"));
        }
        let max = self.shared.settings.max_message_bytes;
        if from.size > max {
            return self.reply(Reply::new(552, "5.3.4", format!("Message too big (at most {max} bytes)")));
        }
        if self.submission().is_some() {
            return self.submit_mail(from).await;
        }
        let inbound = &self.shared.inbound;
        self.env.reset();
        self.env.mail_from = from.address.trim().to_lowercase();
        let checked = match inbound.check_peer(&mut self.env).await {
            Ok(()) => inbound.check_sender(&mut self.env).await,
            Err(e) => Err(e),
        };
        match checked {
            Ok(()) => {
                self.in_mail = true;
                self.declared_size = from.size as i64;
                self.reply(Reply::new(250, "2.1.0", "OK"));
            }
            Err(e) => {
                self.env.mail_from.clear();
                let r = self.refusal(&e);
                self.reply(r);
            }
        }
    }

    async fn rcpt(&mut self, address: String) {
        if !self.in_mail {
            return self.reply(Reply::new(503, "5.5.1", "Send MAIL first"));
        }
        if self.env.recipients.len() >= self.shared.settings.max_recipients {
            return self.reply(Reply::new(452, "4.5.3", "Too many recipients"));
        }
        let address = address.trim().to_lowercase();
        if self.submission().is_some() {
            return self.submit_rcpt(address).await;
        }
        match self.shared.inbound.add_recipient(&mut self.env, &address, self.declared_size).await {
            Ok(_) => {
                self.reply(Reply::new(250, "2.1.5", "OK"));
            }
            Err(e) => {
                let r = self.refusal(&e);
                self.reply(r);
            }
        }
    }

    /// Submission's MAIL: the holder's own address, with a token still valid.
    async fn submit_mail(&mut self, from: smtp_proto::MailFrom<String>) {
        let Some(sub) = self.shared.submission.clone() else { return };
        let Some(token) = self.authed.as_ref().map(|a| a.token.clone()) else {
            return self.reply(Reply::new(530, "5.7.0", "Authentication required"));
        };
        let ip = Some(self.env.peer_ip.clone());
        let bearer = match oauth::authenticate(&sub.db, sub.clock.as_ref(), &token, ip).await {
            Ok(b) => b,
            Err(e) => {
                let reference = hygie_core::random_ref();
                tracing::error!(reference = %reference, error = %e, "submission token check failed");
                return self.reply(Reply::new(
                    451,
                    "4.3.0",
                    format!("Temporary failure, try again later (ref {reference})"),
                ));
            }
        };
        let Some(bearer) = bearer else {
            self.authed = None;
            return self.reply(Reply::new(530, "5.7.0", "Access expired or withdrawn: authenticate again"));
        };
        let address = from.address.trim().to_lowercase();
        if address != bearer.holder.address {
            let text = format!("Sender address must be your own: <{}>", bearer.holder.address);
            return self.reply(Reply::new(553, "5.7.1", text));
        }
        self.env.reset();
        self.env.mail_from = address;
        self.authed = Some(Authed { holder: bearer.holder, token });
        self.in_mail = true;
        self.declared_size = from.size as i64;
        self.reply(Reply::new(250, "2.1.0", "OK"));
    }

    /// Submission's RCPT: any address the holder may write to, checked now.
    async fn submit_rcpt(&mut self, address: String) {
        let (Some(sub), Some(authed)) = (self.shared.submission.clone(), self.authed.as_ref()) else { return };
        let mailbox = Mailbox::new(&sub.db, sub.clock.as_ref(), &authed.holder, &sub.mail);
        match mailbox.may_write_to(&address).await {
            Ok(()) => {
                self.env.recipients.push(address);
                self.reply(Reply::new(250, "2.1.5", "OK"));
            }
            Err(e) => {
                let reference = hygie_core::random_ref();
                if let hygie_core::mail::SendError::Store(cause) = &e {
                    tracing::error!(reference = %reference, error = %cause, "submission recipient check failed");
                }
                self.reply(reply::for_send(&e, &reference));
            }
        }
    }

    /// AUTH on submission (RFC 4954) with OAUTHBEARER (RFC 7628) or XOAUTH2: an OAuth access
    /// token from Hygie's authorization server, over TLS only. `Ok(false)` when the session ended.
    async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        mechanism: u64,
        initial: String,
    ) -> std::io::Result<bool> {
        let Some(sub) = self.shared.submission.clone() else { return Ok(true) };
        if !self.env.tls {
            self.reply(Reply::new(530, "5.7.0", "Must issue a STARTTLS command first"));
            return Ok(true);
        }
        if self.authed.is_some() {
            self.reply(Reply::new(503, "5.5.1", "Already authenticated"));
            return Ok(true);
        }
        if self.in_mail {
            self.reply(Reply::new(503, "5.5.1", "AUTH not permitted during a mail transaction"));
            return Ok(true);
        }
        if mechanism != smtp_proto::AUTH_OAUTHBEARER && mechanism != smtp_proto::AUTH_XOAUTH2 {
            self.reply(Reply::new(504, "5.5.4", "Unrecognized authentication type: use OAUTHBEARER or XOAUTH2"));
            return Ok(true);
        }
        let response = if initial.is_empty() {
            self.line("334 ");
            self.flush(stream).await?;
            match self.read_line(stream).await? {
                Some(line) => line,
                None => return Ok(false),
            }
        } else {
            initial
        };
        if response == "*" {
            self.reply(Reply::new(501, "5.0.0", "Authentication cancelled"));
            return Ok(true);
        }
        let decoded = if response == "=" {
            Some(Vec::new())
        } else {
            base64::engine::general_purpose::STANDARD.decode(response.trim()).ok()
        };
        let Some(decoded) = decoded else {
            self.reply(Reply::new(501, "5.5.2", "Cannot decode the response (base64)"));
            return Ok(true);
        };
        let verdict = oauth::authenticate_sasl(&sub.db, sub.clock.as_ref(), &decoded, &self.env.peer_ip).await;
        let refusal = match verdict {
            Ok(Ok(b)) => {
                tracing::info!(client = %b.client_name, "submission client authenticated");
                let token = oauth::sasl_bearer(&decoded).map(|(_, t)| t).unwrap_or_default();
                self.authed = Some(Authed { holder: b.holder, token });
                self.reply(Reply::new(235, "2.7.0", "Authentication successful"));
                return Ok(true);
            }
            Ok(Err(refusal)) => refusal,
            Err(e) => {
                let reference = hygie_core::random_ref();
                tracing::error!(reference = %reference, error = %e, "submission token check failed");
                self.reply(Reply::new(454, "4.7.0", format!("Temporary authentication failure (ref {reference})")));
                return Ok(true);
            }
        };
        if refusal == oauth::SaslRefusal::TooManyFailures {
            self.line("421 4.7.0 Too many failed authentications, closing connection");
            self.flush(stream).await?;
            return Ok(false);
        }
        // RFC 7628 §3.2.2: the error goes in a challenge, which the client answers (with %x01
        // for OAUTHBEARER, an empty line for XOAUTH2) before the failure is given.
        let error = r#"{"status":"invalid_token","schemes":"bearer","scope":"mail"}"#;
        self.line(&format!("334 {}", base64::engine::general_purpose::STANDARD.encode(error)));
        self.flush(stream).await?;
        if self.read_line(stream).await?.is_none() {
            return Ok(false);
        }
        let failure = match refusal {
            oauth::SaslRefusal::TermsPending => "Accept the terms of use in force in the webmail first",
            _ => "Authentication credentials invalid",
        };
        self.reply(Reply::new(535, "5.7.8", failure));
        Ok(true)
    }

    /// One line of an exchange that is not a command (a SASL response), without its CRLF.
    /// `None` when the session ended.
    async fn read_line<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> std::io::Result<Option<String>> {
        const MAX_LINE: usize = 16 * 1024;
        loop {
            if let Some(i) = self.buf[self.pos..].iter().position(|b| *b == b'\n') {
                let line =
                    String::from_utf8_lossy(&self.buf[self.pos..self.pos + i]).trim_end_matches('\r').to_string();
                self.pos += i + 1;
                return Ok(Some(line));
            }
            if self.buf.len() - self.pos > MAX_LINE {
                self.line("500 5.5.6 Line too long, closing connection");
                self.flush(stream).await?;
                return Ok(None);
            }
            if !self.read_more(stream, None).await? {
                return Ok(None);
            }
        }
    }

    /// The reply to a refusal; an internal error is logged under a reference quoted to the peer.
    fn refusal(&self, e: &hygie_core::mail::delivery::DeliveryError) -> Reply {
        let reference = hygie_core::random_ref();
        if let hygie_core::mail::delivery::DeliveryError::Store(cause) = e {
            tracing::error!(reference = %reference, error = %cause, peer = %self.env.peer_ip, "inbound mail failed");
        }
        reply::for_refusal(e, &reference)
    }

    /// Reads the message after DATA, then delivers it and answers (SMTP: once; LMTP: once per
    /// recipient). `Ok(false)` when the session ended meanwhile.
    async fn receive<S: AsyncRead + AsyncWrite + Unpin>(&mut self, stream: &mut S) -> std::io::Result<bool> {
        let max = self.shared.settings.max_message_bytes;
        let deadline = Instant::now() + self.shared.settings.data_timeout;
        let mut data = Vec::new();
        let mut receiver = DataReceiver::new();
        // Past the limit, the rest is read and dropped, to answer 552 in step.
        let mut discard: Option<DummyDataReceiver> = None;
        loop {
            if self.pos < self.buf.len() {
                let mut bytes = self.buf[self.pos..].iter();
                let before = bytes.len();
                let done = match discard.as_mut() {
                    Some(d) => d.ingest(&mut bytes),
                    None => {
                        let done = receiver.ingest(&mut bytes, &mut data);
                        if !done && data.len() > max {
                            discard = Some(DummyDataReceiver::new_data(&receiver));
                            data = Vec::new();
                        }
                        done
                    }
                };
                self.pos += before - bytes.len();
                if done {
                    break;
                }
            }
            if Instant::now() >= deadline {
                self.line("421 4.4.2 Message took too long, closing connection");
                self.flush(stream).await?;
                return Ok(false);
            }
            if !self.read_more(stream, Some(deadline)).await? {
                return Ok(false);
            }
        }
        if discard.is_some() || data.len() > max {
            self.reply(Reply::new(552, "5.3.4", format!("Message too big (at most {max} bytes)")));
            self.reset();
            return Ok(true);
        }
        if let Some(sub) = self.shared.submission.clone() {
            let r = match &self.authed {
                Some(authed) => {
                    let mailbox = Mailbox::new(&sub.db, sub.clock.as_ref(), &authed.holder, &sub.mail);
                    match mailbox.submit(&self.env.recipients, &data).await {
                        Ok(sent) => {
                            tracing::info!(
                                message = sent.sent_id,
                                delivered = sent.delivered.len(),
                                queued = sent.queued.len(),
                                "message submitted"
                            );
                            Reply::new(250, "2.0.0", "Message accepted and committed")
                        }
                        Err(e) => {
                            let reference = hygie_core::random_ref();
                            if let hygie_core::mail::SubmitError::Send(hygie_core::mail::SendError::Store(cause)) = &e {
                                tracing::error!(reference = %reference, error = %cause, "submission failed");
                            }
                            reply::for_submission(&e, &reference)
                        }
                    }
                }
                None => Reply::new(530, "5.7.0", "Authentication required"),
            };
            self.reply(r);
            self.reset();
            return Ok(true);
        }
        let inbound = self.shared.inbound.clone();
        if self.lmtp() {
            let answers = inbound.deliver_each(&self.env, &data).await;
            for (answer, address) in answers.iter().zip(self.env.recipients.clone()) {
                let r = match answer {
                    Ok(_) => Reply::new(250, "2.1.5", format!("<{address}> delivered")),
                    Err(e) => self.refusal(e),
                };
                r.write_to(&mut self.out);
            }
        } else {
            match inbound.deliver(&self.env, &data).await {
                Ok(d) => {
                    let ids: Vec<String> = d.stored.iter().filter_map(|s| s.message).map(|id| id.to_string()).collect();
                    tracing::info!(peer = %self.env.peer_ip, messages = %ids.join(","), "inbound message delivered");
                    self.reply(Reply::new(250, "2.0.0", "Message accepted and committed"));
                }
                Err(e) => {
                    let r = self.refusal(&e);
                    self.reply(r);
                }
            }
        }
        self.reset();
        Ok(true)
    }
}

/// The reply to a command that does not parse.
fn parse_error(e: &ParseError) -> Reply {
    match e {
        ParseError::UnknownCommand => Reply::new(500, "5.5.1", "Unknown command"),
        ParseError::InvalidSenderAddress => Reply::new(501, "5.1.7", "Bad sender address syntax"),
        ParseError::InvalidRecipientAddress => Reply::new(501, "5.1.3", "Bad recipient address syntax"),
        ParseError::SyntaxError { syntax } => Reply::new(501, "5.5.4", format!("Syntax: {syntax}")),
        ParseError::InvalidParameter { param } => Reply::new(501, "5.5.4", format!("Invalid parameter {param}")),
        ParseError::UnsupportedParameter { .. } => Reply::new(555, "5.5.4", "Unsupported parameter"),
        ParseError::ResponseTooLong => Reply::new(500, "5.5.6", "Line too long"),
        _ => Reply::new(500, "5.5.2", "Syntax error"),
    }
}
