use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_site_info, Organisation};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::i18n::{I18n, Msg};
use crate::use_i18n;

#[component]
pub fn Legal() -> impl IntoView {
    let t = use_i18n();
    let info = Resource::new(|| (), |_| get_site_info());
    view! {
        <Title text=t.t(Msg::LegalTitle)/>
        <h1>{t.t(Msg::LegalTitle)}</h1>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(info) => view! {
                        <section class="card" aria-labelledby="publisher">
                            <h2 id="publisher">{t.t(Msg::LegalPublisher)}</h2>
                            <OrgDetails org=info.operator.clone() extra=vec![(Msg::LegalDirector, info.director.clone())] t/>
                        </section>
                        <section class="card" aria-labelledby="host">
                            <h2 id="host">{t.t(Msg::LegalHost)}</h2>
                            <OrgDetails org=info.host.clone() extra=vec![(Msg::LegalHostCert, info.host_certification.clone())] t/>
                        </section>
                        <section class="card" aria-labelledby="data-protection">
                            <h2 id="data-protection">{t.t(Msg::LegalDataProtection)}</h2>
                            <p>{t.t(Msg::LegalDataProtectionText)}" "<a href="/assistance">{t.t(Msg::NavAssistance)}</a></p>
                        </section>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OrgDetails(org: Organisation, extra: Vec<(Msg, String)>, t: I18n) -> impl IntoView {
    let row = move |label: Msg, value: Option<String>| {
        value.filter(|v| !v.is_empty()).map(|v| view! { <dt>{t.t(label)}</dt><dd>{v}</dd> })
    };
    view! {
        <dl class="details">
            {row(Msg::LegalName, Some(org.name))}
            {row(Msg::LegalAddress, Some(org.address))}
            {row(Msg::LegalRegistration, org.registration)}
            {row(Msg::LegalPhone, org.phone)}
            {row(Msg::LegalEmail, org.email)}
            {extra.into_iter().map(|(label, value)| row(label, Some(value))).collect_view()}
        </dl>
    }
}
