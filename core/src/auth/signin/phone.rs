//! Signing in with the phone's approval, after the password: the request, then the sign-in
//! page's polls until the phone answers.

use super::{actor, signed_in, CodeStep, Ctx};
use crate::accounts;
use crate::audit::Outcome;
use crate::auth::phone::{self, AskRefused, Asked, Standing};
use crate::auth::session::{self, Factor, Level, Session};
use crate::store::StoreError;

/// "Valider sur mon téléphone": asks the holder's phones to approve the pending sign-in.
pub async fn ask_phone(
    ctx: &Ctx<'_>,
    http: &reqwest::Client,
    pending: &Session,
) -> Result<Result<Asked, AskRefused>, StoreError> {
    if pending.level != Level::Password {
        return Ok(Err(AskRefused::NoPhone));
    }
    phone::ask(ctx.db, ctx.clock, http, pending.account_id, pending.id, ctx.ip).await
}

/// Where the request `id` of the pending sign-in stands: `None` while the phone has not
/// answered; signed in once it approved; `KeyRefused` when it refused (a wrong number) or the
/// request died (the holder may ask again or choose another way).
pub async fn phone_step(ctx: &Ctx<'_>, pending: &Session, id: &str) -> Result<Option<CodeStep>, StoreError> {
    if pending.level != Level::Password {
        return Ok(Some(CodeStep::Expired));
    }
    let Some(a) = accounts::get(ctx.db, pending.account_id).await? else { return Ok(Some(CodeStep::Expired)) };
    match phone::standing(ctx.db, ctx.clock, pending.id, id).await? {
        Standing::Pending => Ok(None),
        Standing::Approved { terminal_id } => {
            if a.locked_ms.is_some() {
                session::end(ctx.db, ctx.clock, pending.id).await?;
                ctx.audit(actor(a.id), "signin.code", Outcome::Denied("locked".into()), None).await?;
                return Ok(Some(CodeStep::Locked));
            }
            Ok(Some(signed_in(ctx, pending, &a, Factor::Phone, Some(terminal_id)).await?))
        }
        Standing::Over => Ok(Some(if a.locked_ms.is_some() { CodeStep::Locked } else { CodeStep::KeyRefused })),
    }
}
