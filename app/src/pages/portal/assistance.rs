use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{get_contact_flash, get_site_info, ContactFlash, SubmitContact};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::components::form::{focus_later, problem_of, ErrorSummary, Field};
use crate::domain::contact::{ContactForm, ContactInput, NAME_MAX, SUBJECT_MAX};
use crate::error::AppError;
use crate::i18n::{Locale, Msg};
use crate::use_i18n;

#[component]
pub fn Assistance() -> impl IntoView {
    let t = use_i18n();
    let info = Resource::new(|| (), |_| get_site_info());
    let flash = Resource::new(|| (), |_| get_contact_flash());
    let query = use_query_map();
    let sent = query.with_untracked(|q| q.get("envoye").and_then(|v| v.parse::<i64>().ok()));

    view! {
        <Title text=t.t(Msg::AssistanceTitle)/>
        <h1>{t.t(Msg::AssistanceTitle)}</h1>
        <div class="assistance-layout">
            <section class="card" aria-labelledby="hours">
                <h2 id="hours">{t.t(Msg::AssistanceHoursTitle)}</h2>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match info.await {
                            Ok(info) => {
                                let hours = match t.locale {
                                    Locale::Fr => info.support_hours_fr,
                                    Locale::En => info.support_hours_en,
                                };
                                let phone = info.support_phone.map(|p| view! {
                                    <p>{t.t(Msg::AssistancePhone)}" : "<a href=format!("tel:{}", p.replace(' ', ""))>{p.clone()}</a></p>
                                });
                                view! { <p>{hours}</p>{phone} }.into_any()
                            }
                            Err(error) => view! { <ErrorNotice error/> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
            <section class="card contact" aria-labelledby="contact-title">
                <h2 id="contact-title">{t.t(Msg::AssistanceFormTitle)}</h2>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        let flash = flash.await.ok().flatten();
                        view! { <ContactFormView flash sent/> }
                    })}
                </Suspense>
            </section>
        </div>
    }
}

/// The contact form. Before hydration or without JavaScript it is a plain POST to
/// `/assistance`, whose answer refills it (`flash`); once hydrated it is checked in the browser
/// with the same rules as the server and sent by a server function.
#[component]
fn ContactFormView(flash: Option<ContactFlash>, sent: Option<i64>) -> impl IntoView {
    let t = use_i18n();
    let initial = flash.as_ref().map(|f| f.input.clone()).unwrap_or_default();
    let name = RwSignal::new(initial.name.clone());
    let email = RwSignal::new(initial.email.clone());
    let subject = RwSignal::new(initial.subject.clone());
    let message = RwSignal::new(initial.message.clone());
    let errors = RwSignal::new(flash.as_ref().map(|f| f.errors.clone()).unwrap_or_default());
    let failure = RwSignal::new(flash.and_then(|f| f.failure));
    let receipt = RwSignal::new(sent);
    let submit = ServerAction::<SubmitContact>::new();
    let pending = submit.pending();
    let summary = NodeRef::<leptos::html::Div>::new();

    let focus_summary = move || focus_later(summary);

    Effect::new(move |_| {
        if let Some(result) = submit.value().get() {
            match result {
                Ok(r) => {
                    errors.set(Vec::new());
                    failure.set(None);
                    receipt.set(Some(r.id));
                }
                Err(AppError::Invalid(e)) => {
                    errors.set(e);
                    failure.set(None);
                    focus_summary();
                }
                Err(e) => {
                    failure.set(Some(e));
                    focus_summary();
                }
            }
        }
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let input = ContactInput {
            name: name.get_untracked(),
            email: email.get_untracked(),
            subject: subject.get_untracked(),
            message: message.get_untracked(),
        };
        failure.set(None);
        match ContactForm::parse(&input) {
            Err(e) => {
                errors.set(e);
                focus_summary();
            }
            Ok(_) => {
                errors.set(Vec::new());
                submit.dispatch(SubmitContact { input });
            }
        }
    };

    let problem = move |field: &'static str| problem_of(errors, field);

    view! {
        <Show
            when=move || receipt.get().is_none()
            fallback=move || view! {
                <div class="notice notice-success" role="status">
                    <p>{t.t(Msg::AssistanceSent)}</p>
                    <p>{t.fmt(Msg::AssistanceSentRef, &[("id", &receipt.get().unwrap_or_default().to_string())])}</p>
                    <p><a href="/assistance" rel="external">{t.t(Msg::AssistanceAnother)}</a></p>
                </div>
            }
        >
            <p class="notice notice-warning">{t.t(Msg::AssistanceWarning)}</p>
            <ErrorSummary prefix="contact" errors failure label_of=field_label node_ref=summary intro=Msg::ErrSummary/>
            <form method="post" action="/assistance" novalidate on:submit=on_submit class="form">
                <p class="hint">{t.t(Msg::AssistanceRequired)}</p>
                <Field prefix="contact" id="name" label=Msg::FieldName hint=None value=name initial=initial.name.clone()
                    problem=problem("name") autocomplete="name" input_type="text" maxlength=Some(NAME_MAX)/>
                <Field prefix="contact" id="email" label=Msg::FieldEmail hint=Some(Msg::FieldEmailHint) value=email initial=initial.email.clone()
                    problem=problem("email") autocomplete="email" input_type="email" maxlength=Some(254)/>
                <Field prefix="contact" id="subject" label=Msg::FieldSubject hint=None value=subject initial=initial.subject.clone()
                    problem=problem("subject") autocomplete="off" input_type="text" maxlength=Some(SUBJECT_MAX)/>
                <Field prefix="contact" id="message" label=Msg::FieldMessage hint=Some(Msg::FieldMessageHint) value=message initial=initial.message.clone()
                    problem=problem("message") autocomplete="off" input_type="textarea" maxlength=None/>
                <button type="submit" class="button button-primary" disabled=move || pending.get()>
                    {move || if pending.get() { t.t(Msg::AssistanceSending) } else { t.t(Msg::AssistanceSend) }}
                </button>
            </form>
        </Show>
    }
}

fn field_label(field: &str) -> Msg {
    match field {
        "name" => Msg::FieldName,
        "email" => Msg::FieldEmail,
        "subject" => Msg::FieldSubject,
        _ => Msg::FieldMessage,
    }
}
