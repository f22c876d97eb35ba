//! `/autoriser`: a mail client or a software on the professional's computer opened
//! `/oauth/authorize` in the browser (authorization code grant with PKCE). Signed in fully first
//! (otherwise to the sign-in page and back here, the request intact in the address), the holder
//! sees which software asks, for what and on which mailbox, and allows or refuses. The form goes
//! to `POST /oauth/authorize` as a plain form (no JavaScript needed; the origin check protects
//! it), whose answer takes the browser back to the software.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

use crate::api::{authorization_request, AuthorizeQuery};
use crate::components::consent::ConsentCard;
use crate::components::feedback::{ErrorNotice, Loading};
use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

/// The consent page's path; the sign-in page comes back to it (a full page load: see there).
pub const CONSENT_PATH: &str = "/autoriser";

#[component]
pub fn AuthorizePage() -> impl IntoView {
    let t = use_i18n();
    let query = use_query_map().with_untracked(|q| AuthorizeQuery {
        response_type: q.get("response_type"),
        client_id: q.get("client_id"),
        redirect_uri: q.get("redirect_uri"),
        scope: q.get("scope"),
        state: q.get("state"),
        code_challenge: q.get("code_challenge"),
        code_challenge_method: q.get("code_challenge_method"),
    });
    let back =
        format!("/connexion?suite={}", crate::encode_query_value(&format!("{CONSENT_PATH}?{}", query.to_query())));
    let asked = query.clone();
    let request = Resource::new(|| (), move |_| authorization_request(asked.clone()));
    view! {
        <Title text=t.t(Msg::AuthorizeTitle)/>
        <h1>{t.t(Msg::AuthorizeTitle)}</h1>
        <Suspense fallback=Loading>
            {move || {
                let (query, back) = (query.clone(), back.clone());
                Suspend::new(async move {
                    match request.await {
                        Ok(v) => view! {
                            <ConsentCard client=v.client_name account=v.account>
                                <form method="post" action="/oauth/authorize">
                                    {query.pairs().into_iter().map(|(name, value)| view! {
                                        <input type="hidden" name=name value=value/>
                                    }).collect_view()}
                                    <div class="button-row">
                                        <button type="submit" name="decision" value="approve" class="button button-primary">
                                            {t.t(Msg::DeviceApprove)}
                                        </button>
                                        <button type="submit" name="decision" value="refuse" class="button">
                                            {t.t(Msg::DeviceRefuse)}
                                        </button>
                                    </div>
                                </form>
                            </ConsentCard>
                        }.into_any(),
                        Err(AppError::Unauthorized) => view! { <Redirect path=back/> }.into_any(),
                        Err(AppError::TermsPending) => view! { <Redirect path="/compte/cgu"/> }.into_any(),
                        Err(AppError::NotFound) => view! {
                            <p class="notice notice-error" role="alert">{t.t(Msg::AuthorizeInvalid)}</p>
                        }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
