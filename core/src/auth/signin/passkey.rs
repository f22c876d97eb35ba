//! Signing in with a passkey: alone ("Se connecter avec une clé d'accès", the key names the
//! account and verifies its holder), or after the password as the strongest second factor.

use super::{actor, record_failure, reset_failures, signed_in, CodeStep, Ctx};
use crate::accounts;
use crate::audit::{Actor, Outcome};
use crate::auth::passkeys::{self, Ceremony, Proof, Purpose, RelyingParty};
use crate::auth::session::{self, Factor, Level, NewSession, Session, SessionToken};
use crate::store::StoreError;

/// What a sign-in with a passkey alone led to.
pub enum PasskeySignIn {
    SignedIn {
        token: SessionToken,
        session_id: i64,
        account_id: i64,
    },
    /// No live key of any account, a dead ceremony, or an answer that does not verify.
    Refused,
    Locked,
    /// The key's account is suspended, closed or not activated.
    Unavailable,
}

/// Begins a sign-in with a passkey alone.
pub async fn start_passkey_signin(ctx: &Ctx<'_>, rp: &RelyingParty) -> Result<Ceremony, StoreError> {
    passkeys::start_discoverable(ctx.db, ctx.clock.now_ms(), rp).await
}

/// Finishes a sign-in with a passkey alone, from the browser's answer to ceremony `ceremony`.
pub async fn passkey_signin(
    ctx: &Ctx<'_>,
    rp: &RelyingParty,
    ceremony: &str,
    response: &str,
) -> Result<PasskeySignIn, StoreError> {
    let Some(held) = passkeys::take(ctx.db, ctx.clock.now_ms(), ceremony, Purpose::SignIn).await? else {
        ctx.audit(Actor::Anonymous, "signin.passkey", Outcome::Failure("dead_ceremony".into()), None).await?;
        return Ok(PasskeySignIn::Refused);
    };
    let key = match passkeys::verify(ctx.db, ctx.clock, rp, &held, true, "passkey", response, ctx.ip).await? {
        Proof::Verified(key) => key,
        Proof::CounterRegressed => return Ok(PasskeySignIn::Refused),
        Proof::Refused(why) => {
            ctx.audit(Actor::Anonymous, "signin.passkey", Outcome::Failure(why.into()), None).await?;
            return Ok(PasskeySignIn::Refused);
        }
    };
    let Some(a) = accounts::get(ctx.db, key.account_id).await? else { return Ok(PasskeySignIn::Refused) };
    if a.locked_ms.is_some() {
        ctx.audit(actor(a.id), "signin.passkey", Outcome::Denied("locked".into()), None).await?;
        return Ok(PasskeySignIn::Locked);
    }
    if a.status != "active" {
        ctx.audit(actor(a.id), "signin.passkey", Outcome::Denied(format!("status_{}", a.status)), None).await?;
        return Ok(PasskeySignIn::Unavailable);
    }
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
            factor: Some((Factor::Passkey, Some(key.terminal_id))),
        },
    )
    .await?;
    let object = format!("session:{session_id} terminal:{}", key.terminal_id);
    ctx.audit(actor(a.id), "signin.passkey", Outcome::Success, Some(object)).await?;
    Ok(PasskeySignIn::SignedIn { token, session_id, account_id: a.id })
}

/// Begins proving a pending sign-in (password verified) with one of the account's passkeys;
/// `None` when it has none that can.
pub async fn start_passkey_step(
    ctx: &Ctx<'_>,
    rp: &RelyingParty,
    pending: &Session,
) -> Result<Option<Ceremony>, StoreError> {
    if pending.level != Level::Password {
        return Ok(None);
    }
    passkeys::start_for_account(ctx.db, ctx.clock.now_ms(), rp, pending.account_id, pending.id).await
}

/// Finishes proving a pending sign-in with a passkey.
pub async fn passkey_step(
    ctx: &Ctx<'_>,
    rp: &RelyingParty,
    pending: &Session,
    ceremony: &str,
    response: &str,
) -> Result<CodeStep, StoreError> {
    if pending.level != Level::Password {
        return Ok(CodeStep::Expired);
    }
    let Some(a) = accounts::get(ctx.db, pending.account_id).await? else { return Ok(CodeStep::Expired) };
    if a.locked_ms.is_some() {
        session::end(ctx.db, ctx.clock, pending.id).await?;
        ctx.audit(actor(a.id), "signin.code", Outcome::Denied("locked".into()), None).await?;
        return Ok(CodeStep::Locked);
    }
    let held = passkeys::take(ctx.db, ctx.clock.now_ms(), ceremony, Purpose::SecondFactor)
        .await?
        .filter(|h| h.session_id == Some(pending.id) && h.account_id == Some(a.id));
    let proof = match held {
        Some(held) => passkeys::verify(ctx.db, ctx.clock, rp, &held, false, "passkey", response, ctx.ip).await?,
        None => Proof::Refused("dead_ceremony"),
    };
    match proof {
        Proof::Verified(key) => signed_in(ctx, pending, &a, Factor::Passkey, Some(key.terminal_id)).await,
        Proof::CounterRegressed | Proof::Refused(_) => {
            let why = match proof {
                Proof::Refused(why) => why,
                _ => "counter_regressed",
            };
            let locked = record_failure(ctx, &a).await?;
            ctx.audit(actor(a.id), "signin.code", Outcome::Failure(why.into()), Some("factor:passkey".into())).await?;
            if locked {
                session::end(ctx.db, ctx.clock, pending.id).await?;
                return Ok(CodeStep::Locked);
            }
            Ok(CodeStep::KeyRefused)
        }
    }
}
