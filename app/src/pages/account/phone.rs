//! Hygie on the holder's phone: `/telephone/:token`, where the phone adds itself from the link
//! shown in "Mes terminaux", and `/telephone`, the installed app's page, where sign-in requests
//! are answered: the number shown on the sign-in screen, then the phone's unlock.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{
    phone_link_live, ApprovalRequest, FinishPhone, PhoneAddedView, PhoneChoose, PhoneConfirm, StartPhone,
};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::components::form::{focus_later, problem_of, show_error, ErrorSummary, Field};
use crate::components::webauthn;
use crate::domain::FieldError;
use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

fn label_of(_: &str) -> Msg {
    Msg::FieldTerminalName
}

/// `/telephone/:token`: adds this phone (signed in here) to the account of the link.
#[component]
pub fn PhoneEnrolPage() -> impl IntoView {
    let t = use_i18n();
    let token = use_params_map().with_untracked(|p| p.get("token").unwrap_or_default());
    let live = Resource::new(|| (), {
        let token = token.clone();
        move |_| phone_link_live(token.clone())
    });
    let added = RwSignal::new(None::<PhoneAddedView>);
    let sign_in = format!("/connexion?suite=/telephone/{token}");
    view! {
        <Title text=t.t(Msg::PhoneAddTitle)/>
        <h1>{t.t(Msg::PhoneAddTitle)}</h1>
        <section class="card narrow">
            <Suspense fallback=Loading>
                {move || {
                    let token = token.clone();
                    let sign_in = sign_in.clone();
                    Suspend::new(async move {
                        match live.await {
                            _ if added.with(Option::is_some) => view! { <PhoneAdded added/> }.into_any(),
                            Ok(true) => view! { <PhoneEnrolForm token added/> }.into_any(),
                            Ok(false) => view! { <p class="notice notice-error">{t.t(Msg::PhoneLinkDead)}</p> }.into_any(),
                            Err(AppError::Unauthorized | AppError::TermsPending) => view! {
                                <p>{t.t(Msg::PhoneSignInFirst)}</p>
                                <a class="button button-primary" href=sign_in>{t.t(Msg::NavSignIn)}</a>
                            }
                            .into_any(),
                            Err(error) => view! { <ErrorNotice error/> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn PhoneEnrolForm(token: String, added: RwSignal<Option<PhoneAddedView>>) -> impl IntoView {
    let t = use_i18n();
    let name = RwSignal::new(t.t(Msg::PhoneNameDefault).to_string());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let summary = NodeRef::<leptos::html::Div>::new();
    let start = ServerAction::<StartPhone>::new();
    let finish = ServerAction::<FinishPhone>::new();
    let fail = move |e: AppError| {
        busy.set(false);
        show_error(e, errors, failure);
        focus_later(summary);
    };
    let token_for_start = token.clone();
    Effect::new(move |_| match start.value().get() {
        Some(Ok(setup)) => {
            let token = token_for_start.clone();
            leptos::task::spawn_local(async move {
                match webauthn::create_credential(setup.ceremony.options).await {
                    Ok(response) => {
                        let sub = webauthn::subscribe_push(setup.vapid).await;
                        finish.dispatch(FinishPhone {
                            token,
                            ceremony: setup.ceremony.id,
                            response,
                            endpoint: sub.endpoint,
                            p256dh: sub.p256dh,
                            auth: sub.auth,
                        });
                    }
                    Err(e) => fail(e),
                }
            });
        }
        Some(Err(e)) => fail(e),
        None => {}
    });
    Effect::new(move |_| match finish.value().get() {
        Some(Ok(view)) => {
            webauthn::save_device(&view.device_token);
            added.set(Some(view));
        }
        Some(Err(e)) => fail(e),
        None => {}
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failure.set(None);
        errors.set(Vec::new());
        start.dispatch(StartPhone { token: token.clone(), name: name.get_untracked() });
    };
    view! {
        <p>{t.t(Msg::PhoneAddIntro)}</p>
        <ErrorSummary prefix="phone" errors failure label_of node_ref=summary/>
        <form class="form" novalidate on:submit=on_submit>
            <Field prefix="phone" id="name" label=Msg::FieldTerminalName hint=Some(Msg::FieldTerminalNameHint) value=name
                initial=name.get_untracked() problem=problem_of(errors, "name") autocomplete="off" input_type="text"
                maxlength=Some(60)/>
            <div class="button-row">
                <button type="submit" class="button button-primary" disabled=move || busy.get()>
                    {t.t(Msg::PhoneAddButton)}
                </button>
            </div>
        </form>
    }
}

#[component]
fn PhoneAdded(added: RwSignal<Option<PhoneAddedView>>) -> impl IntoView {
    let t = use_i18n();
    let codes = added.with_untracked(|a| a.as_ref().map(|a| a.recovery_codes.clone()).unwrap_or_default());
    view! {
        <p class="notice notice-success" role="status">{t.t(Msg::PhoneAdded)}</p>
        {(!codes.is_empty()).then(|| view! {
            <div class="recovery-codes" role="group" aria-labelledby="recovery-title">
                <h2 id="recovery-title">{t.t(Msg::RecoveryTitle)}</h2>
                <p>{t.t(Msg::RecoveryIntro)}</p>
                <ol class="codes">{codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ol>
            </div>
        })}
        <a class="button button-primary" href="/telephone">{t.t(Msg::PhonePageTitle)}</a>
    }
}

/// `/telephone`: the phone app. Finds the requests waiting for this phone (every few seconds,
/// and at once when a push brings one), and answers them.
#[component]
pub fn PhoneAppPage() -> impl IntoView {
    let t = use_i18n();
    let device = RwSignal::new(None::<String>);
    let tick = RwSignal::new(0u32);
    let done = RwSignal::new(None::<&'static str>);
    let failure = RwSignal::new(None::<AppError>);
    // The request a notification pointed to comes first.
    let wanted = StoredValue::new(use_query_map().with_untracked(|q| q.get("demande").unwrap_or_default()));
    Effect::new(move |_| {
        webauthn::register_worker();
        device.set(Some(webauthn::load_device()));
        if let Ok(handle) =
            set_interval_with_handle(move || tick.update(|n| *n += 1), std::time::Duration::from_secs(3))
        {
            on_cleanup(move || handle.clear());
        }
    });
    let waiting = Resource::new(
        move || (device.get(), tick.get()),
        |(device, _)| async move {
            match device {
                // Not added: no device token on this phone.
                Some(d) if d.is_empty() => Ok(None),
                Some(d) => crate::api::phone_waiting(d).await.map(Some),
                // Before the page runs in the browser.
                None => Ok(Some(Vec::new())),
            }
        },
    );
    let choose = ServerAction::<PhoneChoose>::new();
    let confirm = ServerAction::<PhoneConfirm>::new();
    Effect::new(move |_| match choose.value().get() {
        Some(Ok(ceremony)) => leptos::task::spawn_local(async move {
            match webauthn::get_credential(ceremony.options).await {
                Ok(response) => {
                    let device = device.get_untracked().unwrap_or_default();
                    confirm.dispatch(PhoneConfirm { device, ceremony: ceremony.id, response });
                }
                Err(e) => failure.set(Some(e)),
            }
        }),
        Some(Err(e)) => {
            done.set(None);
            failure.set(Some(e));
            tick.update(|n| *n += 1);
        }
        None => {}
    });
    Effect::new(move |_| match confirm.value().get() {
        Some(Ok(())) => {
            failure.set(None);
            done.set(Some(t.t(Msg::PhoneApproved)));
            tick.update(|n| *n += 1);
        }
        Some(Err(e)) => failure.set(Some(e)),
        None => {}
    });
    let request_view = move |r: ApprovalRequest| {
        let at = t.locale.date_time(&r.at);
        let from = t.fmt(Msg::PhoneRequestFrom, &[("ip", &r.ip), ("date", &at)]);
        let id = r.id.clone();
        let first = wanted.with_value(|w| *w == r.id);
        view! {
            <div class="approval" class:wanted=first role="group" aria-labelledby=format!("req-{}", r.id)>
                <h2 id=format!("req-{}", r.id)>{t.t(Msg::PhoneRequestTitle)}</h2>
                <p>{from}</p>
                <div class="button-row numbers">
                    {r.choices.into_iter().map(|n| {
                        let id = id.clone();
                        let label = t.fmt(Msg::PhoneChooseLabel, &[("n", &n.to_string())]);
                        view! {
                            <button type="button" class="button number" aria-label=label on:click=move |_| {
                                done.set(None);
                                failure.set(None);
                                let device = device.get_untracked().unwrap_or_default();
                                choose.dispatch(PhoneChoose { device, id: id.clone(), number: n });
                            }>{n}</button>
                        }
                    }).collect_view()}
                </div>
            </div>
        }
    };
    view! {
        <Title text=t.t(Msg::PhonePageTitle)/>
        <h1>{t.t(Msg::PhonePageTitle)}</h1>
        <section class="card narrow">
            {move || done.get().map(|d| view! { <p class="notice notice-success" role="status">{d}</p> })}
            {move || failure.get().map(|error| view! { <ErrorNotice error/> })}
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match waiting.await {
                        Ok(None) => view! { <p>{t.t(Msg::PhoneNotAdded)}</p> }.into_any(),
                        Ok(Some(list)) if list.is_empty() => {
                            view! { <p role="status">{t.t(Msg::PhoneNoRequest)}</p> }.into_any()
                        }
                        Ok(Some(list)) => list.into_iter().map(request_view).collect_view().into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
