use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::ConsentForm;
use crate::env::Consent;
use crate::i18n::Msg;
use crate::{use_i18n, use_page_env};

/// Every cookie Hygie may set: name, purpose, lifetime, category.
pub const COOKIES: &[(&str, Msg, Msg, Msg)] = &[
    ("hygie_lang", Msg::CookieLangPurpose, Msg::CookieOneYear, Msg::CookieKindTechnical),
    ("hygie_consent", Msg::CookieConsentPurpose, Msg::CookieSixMonths, Msg::CookieKindTechnical),
    ("hygie_audience", Msg::CookieAudiencePurpose, Msg::CookieThirteenMonths, Msg::CookieKindAudience),
];

#[component]
pub fn Cookies() -> impl IntoView {
    let t = use_i18n();
    let consent = use_page_env().consent;
    let back = Signal::derive(|| "/cookies".to_string());
    let status = match consent {
        Consent::Accepted => Msg::CookiesChoiceAccepted,
        Consent::Refused => Msg::CookiesChoiceRefused,
        Consent::Unknown => Msg::CookiesChoiceUnknown,
    };
    view! {
        <Title text=t.t(Msg::CookiesTitle)/>
        <h1>{t.t(Msg::CookiesTitle)}</h1>
        <p class="lead">{t.t(Msg::CookiesIntro)}</p>
        <div class="table-wrap">
            <table>
                <caption>{t.t(Msg::CookiesTableCaption)}</caption>
                <thead>
                    <tr>
                        <th scope="col">{t.t(Msg::CookiesColName)}</th>
                        <th scope="col">{t.t(Msg::CookiesColPurpose)}</th>
                        <th scope="col">{t.t(Msg::CookiesColLifetime)}</th>
                        <th scope="col">{t.t(Msg::CookiesColKind)}</th>
                    </tr>
                </thead>
                <tbody>
                    {COOKIES.iter().map(|(name, purpose, life, kind)| view! {
                        <tr>
                            <th scope="row"><code>{*name}</code></th>
                            <td>{t.t(*purpose)}</td>
                            <td>{t.t(*life)}</td>
                            <td>{t.t(*kind)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <section class="card" aria-labelledby="choice">
            <h2 id="choice">{t.t(Msg::CookiesChoiceTitle)}</h2>
            <p id="consent-status" role="status">{t.t(status)}</p>
            <div class="button-row">
                {match consent {
                    Consent::Accepted => view! {
                        <ConsentForm choice="refuser" label=t.t(Msg::CookiesWithdraw) back primary=true/>
                    }.into_any(),
                    Consent::Refused => view! {
                        <ConsentForm choice="accepter" label=t.t(Msg::CookiesAccept) back primary=false/>
                    }.into_any(),
                    Consent::Unknown => view! {
                        <ConsentForm choice="accepter" label=t.t(Msg::CookiesAccept) back primary=true/>
                        <ConsentForm choice="refuser" label=t.t(Msg::CookiesRefuse) back primary=false/>
                    }.into_any(),
                }}
            </div>
        </section>
    }
}
