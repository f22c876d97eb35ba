//! The sign-in flow and the other ways into an account (activation, password reset, unlock),
//! over accounts, one-time codes and sessions. Every step is written to the audit trail; no
//! password, code or token ever is.

use secrecy::SecretString;

use crate::accounts::{self, Account, TokenPurpose};
use crate::audit::{self, Actor, AuditEvent, AuditTx, Outcome};
use crate::auth::holder::Holder;
use crate::auth::otp::{self, OtpCode, Resend, Verify};
use crate::auth::passkeys;
use crate::auth::password::{self, PasswordHashString};
use crate::auth::policy::{self, PasswordProblem};
use crate::auth::session::{self, Factor, Level, NewSession, Session, SessionPolicy, SessionToken};
use crate::auth::terminals::{self, TotpCheck};
use crate::clock::{Clock, Millis};
use crate::outbox::{self, Channel, Outgoing};
use crate::ratelimit::{self, Decision, Limit};
use crate::store::{BeginWrite, Db, StoreError};

/// Consecutive failures (password or code) after which an account locks.
pub const LOCK_AFTER: i64 = 100;
/// A password reset link is valid one hour.
pub const RESET_TTL_MS: Millis = 3_600_000;
/// Unlock links are valid 72 hours.
pub const UNLOCK_TTL_MS: Millis = 72 * 3_600_000;
/// Reset mails one account receives at most per hour, whoever asks: "Mot de passe oublié" must
/// not become a way to flood someone's inbox (the per-IP limit does not stop many addresses).
pub const RESETS_PER_ACCOUNT_PER_HOUR: Limit = Limit { max: 3, window_ms: 3_600_000 };

/// Who is asking, and the settings the flow needs.
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub clock: &'a dyn Clock,
    pub policy: SessionPolicy,
    pub public_url: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

impl Ctx<'_> {
    /// Records a step of the flow; if the record cannot be written, the step fails.
    async fn audit(
        &self,
        actor: Actor,
        action: &str,
        outcome: Outcome,
        object: Option<String>,
    ) -> Result<(), StoreError> {
        let mut ev = AuditEvent::new(actor, action, outcome).ip(self.ip.map(str::to_owned));
        ev.object = object;
        audit::append(self.db, self.clock, ev).await?;
        Ok(())
    }
}

fn actor(account_id: i64) -> Actor {
    Actor::Account(account_id.to_string())
}

/// How the one-time code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeChannel {
    Sms,
    Email,
}

impl CodeChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeChannel::Sms => "sms",
            CodeChannel::Email => "email",
        }
    }

    fn parse(s: &str) -> CodeChannel {
        if s == "sms" {
            CodeChannel::Sms
        } else {
            CodeChannel::Email
        }
    }
}

/// Where a code went, masked for display ("•• •• •• •• 78", "d•••@exemple.fr").
pub fn destination_hint(a: &Account, channel: CodeChannel) -> String {
    match (channel, &a.mobile) {
        (CodeChannel::Sms, Some(m)) => {
            let tail: String = m.chars().rev().take(2).collect::<Vec<_>>().into_iter().rev().collect();
            format!("•• •• •• •• {tail}")
        }
        _ => mask_email(&a.notification_email),
    }
}

pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".into(),
    }
}

/// Queues a one-time code. `purpose_text` says what it is for, in the message.
async fn send_code(
    db: &Db,
    clock: &dyn Clock,
    channel: CodeChannel,
    recipient: &str,
    code: &OtpCode,
    purpose_fr: &str,
    purpose_en: &str,
) -> Result<(), StoreError> {
    let c = code.expose();
    let msg = match channel {
        CodeChannel::Sms => Outgoing {
            channel: Channel::Sms,
            category: "auth.code".into(),
            recipient: recipient.into(),
            subject: None,
            body: format!(
                "Hygie : votre code {purpose_fr} est {c}. Valable 10 minutes. Ne le communiquez à personne, \
                 Hygie ne vous le demandera jamais."
            ),
            reply_to: None,
        },
        CodeChannel::Email => Outgoing {
            channel: Channel::Email,
            category: "auth.code".into(),
            recipient: recipient.into(),
            // Never the code itself: the subject outlives the body in the outbox table.
            subject: Some("Votre code Hygie / Your Hygie code".into()),
            body: format!(
                "Bonjour,\n\nVotre code {purpose_fr} est : {c}\n\nIl est valable 10 minutes et ne sert qu'une fois. \
                 Ne le communiquez à personne : Hygie ne vous le demandera jamais.\n\
                 Si vous n'êtes pas à l'origine de cette demande, changez votre mot de passe.\n\n---\n\
                 Your code {purpose_en} is {c}. It is valid for 10 minutes and works once.\n"
            ),
            reply_to: None,
        },
    };
    outbox::enqueue(db, clock, &msg).await?;
    Ok(())
}

/// Counts a failure; at the `LOCK_AFTER`th consecutive one, locks the account and sends an
/// unlock link to its notification email. Returns whether the account is now locked.
pub async fn record_failure(ctx: &Ctx<'_>, a: &Account) -> Result<bool, StoreError> {
    let now = ctx.clock.now_ms();
    let failures: i64 = crate::with_pool!(ctx.db, p => sqlx::query_scalar(
        "UPDATE accounts SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins")
        .bind(a.id).fetch_one(p).await?);
    if failures < LOCK_AFTER {
        return Ok(false);
    }
    let locked_now = crate::with_pool!(ctx.db, p => sqlx::query(
        "UPDATE accounts SET locked_ms = $1 WHERE id = $2 AND locked_ms IS NULL")
        .bind(now).bind(a.id).execute(p).await?.rows_affected())
        == 1;
    if locked_now {
        let token = accounts::issue_token(ctx.db, ctx.clock, a.id, TokenPurpose::Unlock, UNLOCK_TTL_MS).await?;
        let link = format!("{}/deverrouillage/{token}", ctx.public_url.trim_end_matches('/'));
        accounts::notify(
            ctx.db,
            ctx.clock,
            a,
            "account.locked",
            "Votre compte Hygie est verrouillé / Your Hygie account is locked",
            format!(
                "Bonjour,\n\nAprès {LOCK_AFTER} tentatives de connexion échouées, votre compte {address} a été verrouillé \
                 pour le protéger.\n\nSi c'était vous, déverrouillez-le avec ce lien (valable 72 heures, une seule fois) :\n\
                 {link}\n\nSinon, quelqu'un essaie peut-être d'y accéder : déverrouillez-le puis changez votre mot de \
                 passe, ou contactez l'assistance.\n\n---\nAfter {LOCK_AFTER} failed sign-in attempts your account was \
                 locked. Open the link above to unlock it.\n",
                address = a.address
            ),
        )
        .await?;
        ctx.audit(actor(a.id), "account.lock", Outcome::Success, Some(format!("failures:{failures}"))).await?;
        ctx.audit(actor(a.id), "account.unlock.sent", Outcome::Success, None).await?;
    }
    Ok(true)
}

async fn reset_failures(db: &Db, id: i64) -> Result<(), StoreError> {
    crate::with_pool!(db, p => { sqlx::query("UPDATE accounts SET failed_logins = 0 WHERE id = $1")
        .bind(id).execute(p).await?; });
    Ok(())
}

// ---- Sign-in -----------------------------------------------------------------------------

mod passkey;
mod phone;
pub use passkey::{passkey_signin, passkey_step, start_passkey_signin, start_passkey_step, PasskeySignIn};
pub use phone::{ask_phone, phone_step};

/// What the first step (address + password) led to.
pub enum PasswordStep {
    /// Right password: a code was sent; `token` is the pending session's.
    CodeSent { token: SessionToken, channel: CodeChannel, hint: String, email_possible: bool },
    /// Right password, and the holder has terminals: the strongest is asked for first (a
    /// passkey, their phone's approval, then the authenticator app's code; a recovery code
    /// works too), and a code by
    /// SMS, or by email, remains possible on request.
    TerminalAsked { token: SessionToken, passkey: bool, phone: bool, totp: bool, sms_possible: bool },
    /// Unknown address or wrong password: the same answer for both.
    Rejected,
    /// Right password, but the account is locked.
    Locked,
    /// Right password, but the account is suspended, closed or not activated.
    Unavailable,
}

pub async fn password_step(
    ctx: &Ctx<'_>,
    address: &str,
    password: &str,
    prefer_email: bool,
) -> Result<PasswordStep, StoreError> {
    let account = accounts::find_by_address(ctx.db, address).await?;
    let stored = account.as_ref().and_then(|a| a.password_hash.clone()).map(PasswordHashString::from_stored);
    // Always one Argon2 verification, against a dummy hash when there is no account.
    let ok = password::verify(SecretString::from(policy::normalise(password)), stored).await;
    let Some(a) = account else {
        ctx.audit(Actor::Anonymous, "signin.password", Outcome::Failure("unknown_address".into()), None).await?;
        return Ok(PasswordStep::Rejected);
    };
    if a.locked_ms.is_some() {
        // The same answer whatever the password: a locked account is no password oracle.
        ctx.audit(actor(a.id), "signin.password", Outcome::Denied("locked".into()), None).await?;
        return Ok(PasswordStep::Locked);
    }
    if !ok {
        let locked = record_failure(ctx, &a).await?;
        ctx.audit(actor(a.id), "signin.password", Outcome::Failure("wrong_password".into()), None).await?;
        return Ok(if locked { PasswordStep::Locked } else { PasswordStep::Rejected });
    }
    if a.status != "active" {
        ctx.audit(actor(a.id), "signin.password", Outcome::Denied(format!("status_{}", a.status)), None).await?;
        return Ok(PasswordStep::Unavailable);
    }
    let passkey = passkeys::has_passkey(ctx.db, a.id).await?;
    let phone = crate::auth::phone::has_phone(ctx.db, a.id).await?;
    let totp = terminals::has_totp(ctx.db, a.id).await?;
    if !prefer_email && (passkey || phone || totp) {
        let (_, token) = session::create(
            ctx.db,
            ctx.clock,
            &ctx.policy,
            NewSession {
                account_id: a.id,
                level: Level::Password,
                challenge_id: None,
                ip: ctx.ip,
                user_agent: ctx.user_agent,
                factor: None,
            },
        )
        .await?;
        let next = if passkey {
            "next:passkey"
        } else if phone {
            "next:phone"
        } else {
            "next:totp"
        };
        ctx.audit(actor(a.id), "signin.password", Outcome::Success, Some(next.into())).await?;
        return Ok(PasswordStep::TerminalAsked { token, passkey, phone, totp, sms_possible: a.mobile.is_some() });
    }
    let channel = if a.mobile.is_some() && !prefer_email { CodeChannel::Sms } else { CodeChannel::Email };
    let (challenge, code) = otp::start(ctx.db, ctx.clock, a.id, "signin", channel.as_str()).await?;
    let recipient =
        if channel == CodeChannel::Sms { a.mobile.clone().unwrap_or_default() } else { a.notification_email.clone() };
    send_code(ctx.db, ctx.clock, channel, &recipient, &code, "de connexion", "to sign in").await?;
    let (_, token) = session::create(
        ctx.db,
        ctx.clock,
        &ctx.policy,
        NewSession {
            account_id: a.id,
            level: Level::Password,
            challenge_id: Some(challenge),
            ip: ctx.ip,
            user_agent: ctx.user_agent,
            factor: None,
        },
    )
    .await?;
    ctx.audit(actor(a.id), "signin.password", Outcome::Success, None).await?;
    ctx.audit(actor(a.id), "signin.code.sent", Outcome::Success, Some(format!("channel:{}", channel.as_str()))).await?;
    Ok(PasswordStep::CodeSent {
        token,
        channel,
        hint: destination_hint(&a, channel),
        email_possible: channel == CodeChannel::Sms,
    })
}

/// What the second step (the code) led to.
pub enum CodeStep {
    /// Signed in: the pending session was replaced by this one.
    SignedIn {
        token: SessionToken,
        session_id: i64,
        account_id: i64,
    },
    Wrong {
        attempts_left: i64,
    },
    /// Expired, used up or too many attempts: start again from the password.
    Expired,
    Locked,
    /// An authenticator app's code already used: refused, recorded, and the holder told.
    Replayed,
    /// The key's answer did not prove the sign-in (cancelled, another key, or a key flagged
    /// because its counter went backwards): the holder may try again or choose another way.
    KeyRefused,
}

/// Wrong codes of an authenticator app one pending sign-in may try before starting again.
pub const APP_CODE_ATTEMPTS: i64 = 5;

pub async fn code_step(ctx: &Ctx<'_>, pending: &Session, code: &str) -> Result<CodeStep, StoreError> {
    if pending.level != Level::Password {
        return Ok(CodeStep::Expired);
    }
    let Some(a) = accounts::get(ctx.db, pending.account_id).await? else { return Ok(CodeStep::Expired) };
    if a.locked_ms.is_some() {
        session::end(ctx.db, ctx.clock, pending.id).await?;
        ctx.audit(actor(a.id), "signin.code", Outcome::Denied("locked".into()), None).await?;
        return Ok(CodeStep::Locked);
    }
    let Some(challenge) = pending.challenge_id else { return app_code_step(ctx, pending, &a, code).await };
    // Read before the code uses the challenge up.
    let channel = otp::describe(ctx.db, ctx.clock, challenge, a.id).await?.map(|(_, c, _)| c);
    match otp::verify(ctx.db, ctx.clock, challenge, a.id, code).await? {
        Verify::Ok => {
            let factor = if channel.as_deref() == Some("sms") { Factor::Sms } else { Factor::Email };
            signed_in(ctx, pending, &a, factor, None).await
        }
        Verify::Wrong { attempts_left } => {
            let locked = record_failure(ctx, &a).await?;
            ctx.audit(actor(a.id), "signin.code", Outcome::Failure("wrong_code".into()), None).await?;
            if locked {
                session::end(ctx.db, ctx.clock, pending.id).await?;
                return Ok(CodeStep::Locked);
            }
            Ok(CodeStep::Wrong { attempts_left })
        }
        Verify::Dead => {
            let locked = record_failure(ctx, &a).await?;
            session::end(ctx.db, ctx.clock, pending.id).await?;
            ctx.audit(actor(a.id), "signin.code", Outcome::Failure("expired".into()), None).await?;
            Ok(if locked { CodeStep::Locked } else { CodeStep::Expired })
        }
    }
}

/// Spends a recovery code of the holder's; if it was one, tells them at their notification
/// address how many are left.
async fn use_recovery_code(ctx: &Ctx<'_>, a: &Account, code: &str) -> Result<bool, StoreError> {
    if !terminals::use_recovery_code(ctx.db, ctx.clock, a.id, code).await? {
        return Ok(false);
    }
    let left = terminals::recovery_codes_left(ctx.db, a.id).await?;
    outbox::enqueue(ctx.db, ctx.clock, &crate::notify::recovery_code_used(&a.notification_email, &a.address, left))
        .await?;
    ctx.audit(actor(a.id), "terminal.recovery.used", Outcome::Success, Some(format!("left:{left}"))).await?;
    Ok(true)
}

/// The pending sign-in becomes a signed-in session, proven by `factor` (and `terminal`).
async fn signed_in(
    ctx: &Ctx<'_>,
    pending: &Session,
    a: &Account,
    factor: Factor,
    terminal: Option<i64>,
) -> Result<CodeStep, StoreError> {
    session::end(ctx.db, ctx.clock, pending.id).await?;
    reset_failures(ctx.db, a.id).await?;
    let (session_id, token) = session::create(
        ctx.db,
        ctx.clock,
        &ctx.policy,
        NewSession {
            account_id: a.id,
            level: Level::Full,
            challenge_id: None,
            ip: ctx.ip,
            user_agent: ctx.user_agent,
            factor: Some((factor, terminal)),
        },
    )
    .await?;
    let object = format!("session:{session_id} factor:{}", factor.as_str());
    ctx.audit(actor(a.id), "signin.code", Outcome::Success, Some(object)).await?;
    Ok(CodeStep::SignedIn { token, session_id, account_id: a.id })
}

/// The code of the holder's authenticator app: at most [`APP_CODE_ATTEMPTS`] tries per pending
/// sign-in (then start again from the password); a code already used is refused, recorded, and
/// the holder told at their notification address.
async fn app_code_step(ctx: &Ctx<'_>, pending: &Session, a: &Account, code: &str) -> Result<CodeStep, StoreError> {
    let limit = Limit { max: APP_CODE_ATTEMPTS, window_ms: session::PENDING_TTL_MS };
    let remaining = match ratelimit::hit(ctx.db, ctx.clock, &format!("totp:{}", pending.id), limit).await? {
        Decision::Allowed { remaining } => remaining,
        Decision::Limited { .. } => {
            session::end(ctx.db, ctx.clock, pending.id).await?;
            ctx.audit(actor(a.id), "signin.code", Outcome::Failure("too_many_attempts".into()), None).await?;
            return Ok(CodeStep::Expired);
        }
    };
    if terminals::normalise_recovery_code(code).is_some() {
        if use_recovery_code(ctx, a, code).await? {
            return signed_in(ctx, pending, a, Factor::Recovery, None).await;
        }
        let locked = record_failure(ctx, a).await?;
        ctx.audit(actor(a.id), "signin.code", Outcome::Failure("wrong_code".into()), Some("factor:recovery".into()))
            .await?;
        if locked || remaining == 0 {
            session::end(ctx.db, ctx.clock, pending.id).await?;
            return Ok(if locked { CodeStep::Locked } else { CodeStep::Expired });
        }
        return Ok(CodeStep::Wrong { attempts_left: remaining });
    }
    match terminals::verify_totp(ctx.db, ctx.clock, a.id, code).await? {
        TotpCheck::Accepted { terminal_id } => signed_in(ctx, pending, a, Factor::Totp, Some(terminal_id)).await,
        TotpCheck::Replayed { terminal_id } => {
            let locked = record_failure(ctx, a).await?;
            outbox::enqueue(ctx.db, ctx.clock, &crate::notify::totp_replayed(&a.notification_email, &a.address))
                .await?;
            let object = Some(format!("terminal:{terminal_id}"));
            ctx.audit(actor(a.id), "signin.code", Outcome::Failure("replayed".into()), object).await?;
            Ok(if locked { CodeStep::Locked } else { CodeStep::Replayed })
        }
        TotpCheck::Wrong => {
            let locked = record_failure(ctx, a).await?;
            ctx.audit(actor(a.id), "signin.code", Outcome::Failure("wrong_code".into()), Some("factor:totp".into()))
                .await?;
            if locked || remaining == 0 {
                session::end(ctx.db, ctx.clock, pending.id).await?;
                return Ok(if locked { CodeStep::Locked } else { CodeStep::Expired });
            }
            Ok(CodeStep::Wrong { attempts_left: remaining })
        }
    }
}

pub enum ResendStep {
    Sent { channel: CodeChannel, hint: String },
    TooSoon { retry_after_ms: Millis },
    LimitReached,
    Expired,
}

/// Queues a sign-in code to the account's mobile or notification address, and records it.
async fn send_signin_code(ctx: &Ctx<'_>, a: &Account, channel: CodeChannel, code: &OtpCode) -> Result<(), StoreError> {
    let to =
        if channel == CodeChannel::Sms { a.mobile.clone().unwrap_or_default() } else { a.notification_email.clone() };
    send_code(ctx.db, ctx.clock, channel, &to, code, "de connexion", "to sign in").await?;
    ctx.audit(actor(a.id), "signin.code.sent", Outcome::Success, Some(format!("channel:{}", channel.as_str()))).await
}

/// Sends a new code for a pending sign-in, by email when `to_email` (the weaker option).
pub async fn resend_code(ctx: &Ctx<'_>, pending: &Session, to_email: bool) -> Result<ResendStep, StoreError> {
    if pending.level != Level::Password {
        return Ok(ResendStep::Expired);
    }
    let Some(a) = accounts::get(ctx.db, pending.account_id).await? else { return Ok(ResendStep::Expired) };
    let Some(challenge) = pending.challenge_id else {
        // The holder asked for a code instead of their authenticator app's.
        let channel = if to_email || a.mobile.is_none() { CodeChannel::Email } else { CodeChannel::Sms };
        let (challenge, code) = otp::start(ctx.db, ctx.clock, a.id, "signin", channel.as_str()).await?;
        session::attach_challenge(ctx.db, pending.id, challenge).await?;
        send_signin_code(ctx, &a, channel, &code).await?;
        return Ok(ResendStep::Sent { channel, hint: destination_hint(&a, channel) });
    };
    let Some((_, current, _)) = otp::describe(ctx.db, ctx.clock, challenge, a.id).await? else {
        return Ok(ResendStep::Expired);
    };
    let channel = if to_email || a.mobile.is_none() { CodeChannel::Email } else { CodeChannel::parse(&current) };
    let (outcome, code) = otp::resend_via(ctx.db, ctx.clock, challenge, a.id, Some(channel.as_str())).await?;
    match (outcome, code) {
        (Resend::Sent, Some(code)) => {
            send_signin_code(ctx, &a, channel, &code).await?;
            Ok(ResendStep::Sent { channel, hint: destination_hint(&a, channel) })
        }
        (Resend::TooSoon { retry_after_ms }, _) => Ok(ResendStep::TooSoon { retry_after_ms }),
        (Resend::LimitReached, _) => Ok(ResendStep::LimitReached),
        _ => Ok(ResendStep::Expired),
    }
}

/// Signs out: ends the session server-side.
pub async fn sign_out(ctx: &Ctx<'_>, s: &Session) -> Result<(), StoreError> {
    session::end(ctx.db, ctx.clock, s.id).await?;
    ctx.audit(actor(s.account_id), "signout", Outcome::Success, Some(format!("session:{}", s.id))).await?;
    Ok(())
}

// ---- Choosing a password: activation and reset ----------------------------------------------

/// Words a password must not be built on: the address's local part and the holder's names.
fn personal_words(a: &Account) -> Vec<String> {
    let local = a.address.split('@').next().unwrap_or_default().to_string();
    let mut words = vec![local.clone(), a.last_name.clone(), a.first_name.clone()];
    words.extend(local.split(['.', '-', '_']).map(str::to_owned));
    words
}

/// Checks a new password for `a` and hashes it.
pub async fn hash_new_password(a: &Account, password: &str) -> Result<Result<String, PasswordProblem>, StoreError> {
    let words = personal_words(a);
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    match policy::check_new(password, &refs) {
        Err(problem) => Ok(Err(problem)),
        Ok(normalised) => match password::hash(normalised).await {
            Ok(h) => Ok(Ok(h.as_stored().to_string())),
            Err(e) => Err(StoreError::Other(e.to_string())),
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// Unknown, used or expired link.
    Dead,
    Password(PasswordProblem),
    WrongCode {
        attempts_left: i64,
    },
    /// The SMS code died (too many attempts or expired): ask for a new link.
    CodeExpired,
}

/// Activates an account: the link's holder chooses a password.
pub async fn activate(ctx: &Ctx<'_>, token: &str, password: &str) -> Result<Result<(), LinkProblem>, StoreError> {
    let Some((id, _)) = accounts::peek_token(ctx.db, ctx.clock, token, TokenPurpose::Activation).await? else {
        ctx.audit(Actor::Anonymous, "account.activate", Outcome::Failure("dead_link".into()), None).await?;
        return Ok(Err(LinkProblem::Dead));
    };
    let Some(a) = accounts::get(ctx.db, id).await? else { return Ok(Err(LinkProblem::Dead)) };
    let hash = match hash_new_password(&a, password).await? {
        Ok(h) => h,
        Err(p) => {
            ctx.audit(actor(id), "account.activate", Outcome::Failure("weak_password".into()), None).await?;
            return Ok(Err(LinkProblem::Password(p)));
        }
    };
    if accounts::consume_token(ctx.db, ctx.clock, token, TokenPurpose::Activation).await? != Some(id) {
        return Ok(Err(LinkProblem::Dead));
    }
    accounts::set_password_hash(ctx.db, ctx.clock, id, &hash).await?;
    accounts::activate(ctx.db, id).await?;
    ctx.audit(actor(id), "account.activate", Outcome::Success, None).await?;
    Ok(Ok(()))
}

/// "Mot de passe oublié": emails a reset link, with an SMS code when the account has a mobile.
/// Says nothing about whether the address exists, and answers the same when nothing is sent: a
/// locked account (its unlock link comes first) or past [`RESETS_PER_ACCOUNT_PER_HOUR`]; both
/// refusals are in the audit trail.
pub async fn request_reset(ctx: &Ctx<'_>, address: &str) -> Result<(), StoreError> {
    let Some(a) = accounts::find_by_address(ctx.db, address).await?.filter(|a| a.status == "active") else {
        ctx.audit(Actor::Anonymous, "password.reset.request", Outcome::Failure("unknown_address".into()), None).await?;
        return Ok(());
    };
    if a.locked_ms.is_some() {
        ctx.audit(actor(a.id), "password.reset.request", Outcome::Denied("locked".into()), None).await?;
        return Ok(());
    }
    let key = format!("reset:{}", a.id);
    if let Decision::Limited { .. } = ratelimit::hit(ctx.db, ctx.clock, &key, RESETS_PER_ACCOUNT_PER_HOUR).await? {
        ctx.audit(actor(a.id), "password.reset.request", Outcome::Denied("rate_limited".into()), None).await?;
        return Ok(());
    }
    let token = accounts::issue_token(ctx.db, ctx.clock, a.id, TokenPurpose::Reset, RESET_TTL_MS).await?;
    let link = format!("{}/reinitialisation/{token}", ctx.public_url.trim_end_matches('/'));
    let sms_note = if terminals::has_any(ctx.db, a.id).await? {
        "La page vous demandera aussi un code de votre application d'authentification, ou l'un de vos codes de \
         secours.\n"
    } else if let Some(mobile) = &a.mobile {
        let (challenge, code) = otp::start(ctx.db, ctx.clock, a.id, "reset", "sms").await?;
        accounts::attach_challenge(ctx.db, &token, challenge).await?;
        send_code(ctx.db, ctx.clock, CodeChannel::Sms, mobile, &code, "de réinitialisation", "to reset your password")
            .await?;
        "La page vous demandera aussi le code envoyé par SMS à votre mobile (valable 10 minutes).\n"
    } else {
        ""
    };
    accounts::notify(
        ctx.db,
        ctx.clock,
        &a,
        "password.reset",
        "Réinitialiser votre mot de passe Hygie / Reset your Hygie password",
        format!(
            "Bonjour,\n\nPour choisir un nouveau mot de passe pour {address}, ouvrez ce lien (valable 1 heure, une seule \
             fois) :\n{link}\n{sms_note}\nToutes vos sessions ouvertes seront fermées.\n\
             Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe ne change pas.\n\n\
             ---\nTo choose a new password, open the link above (valid for 1 hour, single use).\n",
            address = a.address
        ),
    )
    .await?;
    ctx.audit(actor(a.id), "password.reset.request", Outcome::Success, None).await?;
    Ok(())
}

/// What a reset link needs besides the new password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetProof {
    /// Nothing: the account has neither mobile nor terminal (the link is the proof).
    None,
    /// The code sent by SMS with the link.
    SmsCode,
    /// A code of the holder's authenticator app, or a recovery code: the notification mailbox
    /// alone cannot take over an account that has a terminal.
    Terminal,
}

/// Whether a reset link is live, and what it needs.
pub async fn reset_needs(ctx: &Ctx<'_>, token: &str) -> Result<Option<ResetProof>, StoreError> {
    let Some((id, challenge)) = accounts::peek_token(ctx.db, ctx.clock, token, TokenPurpose::Reset).await? else {
        return Ok(None);
    };
    Ok(Some(if terminals::has_any(ctx.db, id).await? {
        ResetProof::Terminal
    } else if challenge.is_some() {
        ResetProof::SmsCode
    } else {
        ResetProof::None
    }))
}

/// Wrong codes of a terminal a reset may try per account and hour.
pub const RESET_TERMINAL_ATTEMPTS: Limit = Limit { max: 5, window_ms: 3_600_000 };

/// Sets a new password from a reset link (and its SMS code); ends every session.
pub async fn reset_password(
    ctx: &Ctx<'_>,
    token: &str,
    code: &str,
    password: &str,
) -> Result<Result<(), LinkProblem>, StoreError> {
    let Some((id, challenge)) = accounts::peek_token(ctx.db, ctx.clock, token, TokenPurpose::Reset).await? else {
        ctx.audit(Actor::Anonymous, "password.reset", Outcome::Failure("dead_link".into()), None).await?;
        return Ok(Err(LinkProblem::Dead));
    };
    let Some(a) = accounts::get(ctx.db, id).await? else { return Ok(Err(LinkProblem::Dead)) };
    // The password is checked first: a refused password does not spend a code attempt.
    let hash = match hash_new_password(&a, password).await? {
        Ok(h) => h,
        Err(p) => return Ok(Err(LinkProblem::Password(p))),
    };
    if terminals::has_any(ctx.db, id).await? {
        let key = format!("reset-terminal:{id}");
        let remaining = match ratelimit::hit(ctx.db, ctx.clock, &key, RESET_TERMINAL_ATTEMPTS).await? {
            Decision::Allowed { remaining } => remaining,
            Decision::Limited { .. } => {
                ctx.audit(actor(id), "password.reset", Outcome::Denied("rate_limited".into()), None).await?;
                return Ok(Err(LinkProblem::CodeExpired));
            }
        };
        let proven = if terminals::normalise_recovery_code(code).is_some() {
            use_recovery_code(ctx, &a, code).await?
        } else {
            matches!(terminals::verify_totp(ctx.db, ctx.clock, id, code).await?, TotpCheck::Accepted { .. })
        };
        if !proven {
            record_failure(ctx, &a).await?;
            ctx.audit(actor(id), "password.reset", Outcome::Failure("wrong_terminal_code".into()), None).await?;
            return Ok(Err(if remaining > 0 {
                LinkProblem::WrongCode { attempts_left: remaining }
            } else {
                LinkProblem::CodeExpired
            }));
        }
    } else if let Some(challenge) = challenge {
        match otp::verify(ctx.db, ctx.clock, challenge, id, code).await? {
            Verify::Ok => {}
            Verify::Wrong { attempts_left } => {
                record_failure(ctx, &a).await?;
                ctx.audit(actor(id), "password.reset", Outcome::Failure("wrong_code".into()), None).await?;
                return Ok(Err(LinkProblem::WrongCode { attempts_left }));
            }
            Verify::Dead => {
                record_failure(ctx, &a).await?;
                ctx.audit(actor(id), "password.reset", Outcome::Failure("code_expired".into()), None).await?;
                return Ok(Err(LinkProblem::CodeExpired));
            }
        }
    }
    if accounts::consume_token(ctx.db, ctx.clock, token, TokenPurpose::Reset).await? != Some(id) {
        return Ok(Err(LinkProblem::Dead));
    }
    accounts::set_password_hash(ctx.db, ctx.clock, id, &hash).await?;
    accounts::revoke_links(ctx.db, ctx.clock, id).await?;
    let ended = session::end_all(ctx.db, ctx.clock, id, None).await?;
    notify_password_changed(ctx, &a).await?;
    ctx.audit(actor(id), "password.reset", Outcome::Success, Some(format!("sessions_ended:{ended}"))).await?;
    Ok(Ok(()))
}

/// How proving presence again ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Confirmed,
    WrongPassword,
}

/// The holder types their password again before a sensitive change: the session's proof is
/// renewed and recorded in one transaction. A wrong password counts towards the lock, as at
/// sign-in: a stolen cookie is no way to guess it.
pub async fn confirm_presence(ctx: &Ctx<'_>, holder: &Holder, typed: &str) -> Result<Presence, StoreError> {
    let Some(a) = accounts::get(ctx.db, holder.account_id).await? else { return Ok(Presence::WrongPassword) };
    let stored = a.password_hash.clone().map(PasswordHashString::from_stored);
    if !password::verify(SecretString::from(policy::normalise(typed)), stored).await {
        record_failure(ctx, &a).await?;
        ctx.audit(actor(a.id), "reauthenticate", Outcome::Failure("wrong_password".into()), None).await?;
        return Ok(Presence::WrongPassword);
    }
    let Some(session) = holder.session else { return Ok(Presence::WrongPassword) };
    let now = ctx.clock.now_ms();
    let event = holder.event("reauthenticate", Outcome::Success);
    crate::with_pool!(ctx.db, p => {
        let mut tx = p.begin_write().await?;
        sqlx::query("UPDATE sessions SET authenticated_ms = $1 WHERE id = $2 AND account_id = $3")
            .bind(now).bind(session.id).bind(holder.account_id).execute(&mut *tx).await?;
        tx.append_audit(ctx.db.audit_key(), now, &event).await?;
        tx.commit().await?;
    });
    Ok(Presence::Confirmed)
}

pub async fn notify_password_changed(ctx: &Ctx<'_>, a: &Account) -> Result<(), StoreError> {
    outbox::enqueue(ctx.db, ctx.clock, &crate::notify::password_changed(&a.notification_email, &a.address)).await?;
    Ok(())
}

// ---- Unlock ------------------------------------------------------------------------------

/// Unlocks an account from the link it was sent. Returns whether the link was live.
pub async fn unlock_with_link(ctx: &Ctx<'_>, token: &str) -> Result<bool, StoreError> {
    let Some(id) = accounts::consume_token(ctx.db, ctx.clock, token, TokenPurpose::Unlock).await? else {
        ctx.audit(Actor::Anonymous, "account.unlock", Outcome::Failure("dead_link".into()), None).await?;
        return Ok(false);
    };
    unlock(ctx.db, id).await?;
    ctx.audit(actor(id), "account.unlock", Outcome::Success, Some("via:link".into())).await?;
    Ok(true)
}

/// Clears a lock and the failure count (the link, or the operator).
pub async fn unlock(db: &Db, id: i64) -> Result<(), StoreError> {
    crate::with_pool!(db, p => { sqlx::query("UPDATE accounts SET locked_ms = NULL, failed_logins = 0 WHERE id = $1")
        .bind(id).execute(p).await?; });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{AccountRecord, Created};
    use crate::clock::ManualClock;
    use crate::store::testing::TestDb;

    async fn active_account(db: &Db, clock: &dyn Clock, local: &str) -> i64 {
        let rec = AccountRecord {
            address: format!("{local}@hygie.localhost"),
            mailbox_type: "personal".into(),
            kind: "other".into(),
            last_name: "Martin".into(),
            first_name: "Élise".into(),
            notification_email: format!("{local}@exemple.fr"),
            ..Default::default()
        };
        let Created::New(id) = accounts::create(db, clock, &rec).await.unwrap() else { panic!("exists") };
        accounts::activate(db, id).await.unwrap();
        id
    }

    /// Reset mails queued for `email`.
    async fn reset_mails(db: &Db, email: &str) -> i64 {
        crate::with_pool!(db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE category = 'password.reset' AND recipient = $1")
            .bind(email).fetch_one(p).await.unwrap())
    }

    async fn outcomes(db: &Db, action: &str) -> Vec<String> {
        let mut v: Vec<String> = audit::latest(db, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.action == action)
            .map(|r| r.outcome)
            .collect();
        v.reverse();
        v
    }

    #[tokio::test]
    async fn reset_mails_are_limited_per_account_whoever_asks() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            active_account(&t.db, &clock, "elise.martin").await;
            active_account(&t.db, &clock, "paul.roux").await;
            // Five different clients ask for the same account within the hour.
            for i in 0..5 {
                let ip = format!("192.0.2.{i}");
                let ctx = Ctx {
                    db: &t.db,
                    clock: &clock,
                    policy: SessionPolicy { idle_ms: 1_800_000, absolute_ms: 43_200_000 },
                    public_url: "https://hygie.test",
                    ip: Some(&ip),
                    user_agent: None,
                };
                request_reset(&ctx, "elise.martin@hygie.localhost").await.unwrap();
            }
            assert_eq!(reset_mails(&t.db, "elise.martin@exemple.fr").await, 3);
            assert_eq!(
                outcomes(&t.db, "password.reset.request").await,
                ["success", "success", "success", "denied:rate_limited", "denied:rate_limited"]
            );
            let ctx = Ctx {
                db: &t.db,
                clock: &clock,
                policy: SessionPolicy { idle_ms: 1_800_000, absolute_ms: 43_200_000 },
                public_url: "https://hygie.test",
                ip: None,
                user_agent: None,
            };
            // Another account has its own count.
            request_reset(&ctx, "paul.roux@hygie.localhost").await.unwrap();
            assert_eq!(reset_mails(&t.db, "paul.roux@exemple.fr").await, 1);
            // The next hour, mail again.
            clock.advance_ms(3_600_000);
            request_reset(&ctx, "elise.martin@hygie.localhost").await.unwrap();
            assert_eq!(reset_mails(&t.db, "elise.martin@exemple.fr").await, 4);
        }
    }

    #[tokio::test]
    async fn a_locked_account_gets_no_reset_mail() {
        for t in TestDb::both().await {
            let clock = ManualClock::new(1_800_000_000_000);
            let id = active_account(&t.db, &clock, "anne.lefevre").await;
            crate::with_pool!(&t.db, p => { sqlx::query("UPDATE accounts SET locked_ms = $1 WHERE id = $2")
                .bind(clock.now_ms()).bind(id).execute(p).await.unwrap(); });
            let ctx = Ctx {
                db: &t.db,
                clock: &clock,
                policy: SessionPolicy { idle_ms: 1_800_000, absolute_ms: 43_200_000 },
                public_url: "https://hygie.test",
                ip: Some("192.0.2.9"),
                user_agent: None,
            };
            // The same answer as for any address.
            assert!(request_reset(&ctx, "anne.lefevre@hygie.localhost").await.is_ok());
            assert_eq!(reset_mails(&t.db, "anne.lefevre@exemple.fr").await, 0);
            let live: i64 = crate::with_pool!(&t.db, p => sqlx::query_scalar(
                "SELECT COUNT(*) FROM account_tokens WHERE account_id = $1 AND purpose = 'reset'")
                .bind(id).fetch_one(p).await.unwrap());
            assert_eq!(live, 0, "no reset link issued");
            assert_eq!(outcomes(&t.db, "password.reset.request").await, ["denied:locked"]);
            // Unlocked, it works again.
            unlock(&t.db, id).await.unwrap();
            request_reset(&ctx, "anne.lefevre@hygie.localhost").await.unwrap();
            assert_eq!(reset_mails(&t.db, "anne.lefevre@exemple.fr").await, 1);
        }
    }
}
