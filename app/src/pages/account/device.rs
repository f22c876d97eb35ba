//! `/appareil`: a mail client or a business software asked for access with the device grant;
//! the holder types the code it shows (or arrives with `?code=`), sees which software asks, and
//! allows or refuses. Signed in fully first: otherwise, to the sign-in page and back here.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

use crate::api::{my_account, DecideDevice, DeviceRequest, DeviceRequestView};
use crate::components::consent::ConsentCard;
use crate::components::feedback::{ErrorNotice, Loading};
use crate::components::form::{focus_later, problem_of, show_error, ErrorSummary, Field};
use crate::domain::{FieldError, FieldProblem};
use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

fn label_of(_: &str) -> Msg {
    Msg::DeviceCodeLabel
}

/// Where the sign-in page sends the holder back: here, with the code (letters and a dash only).
fn back_here(code: &str) -> String {
    let code: String = code.chars().filter(|c| c.is_ascii_alphabetic() || *c == '-').take(12).collect();
    if code.is_empty() {
        "/connexion?suite=/appareil".into()
    } else {
        format!("/connexion?suite=/appareil%3Fcode%3D{code}")
    }
}

#[component]
pub fn DevicePage() -> impl IntoView {
    let t = use_i18n();
    let initial = use_query_map().with_untracked(|q| q.get("code").unwrap_or_default());
    let account = Resource::new(|| (), |_| my_account());
    let back = back_here(&initial);
    view! {
        <Title text=t.t(Msg::DeviceTitle)/>
        <h1>{t.t(Msg::DeviceTitle)}</h1>
        <Suspense fallback=Loading>
            {move || {
                let (initial, back) = (initial.clone(), back.clone());
                Suspend::new(async move {
                    match account.await {
                        Ok(_) => view! { <Decide initial/> }.into_any(),
                        Err(AppError::Unauthorized) => view! { <Redirect path=back/> }.into_any(),
                        Err(AppError::TermsPending) => view! { <Redirect path="/compte/cgu"/> }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[derive(Clone, PartialEq)]
enum Stage {
    Typing,
    Asking(DeviceRequestView),
    Approved(String),
    Refused,
}

#[component]
fn Decide(initial: String) -> impl IntoView {
    let t = use_i18n();
    let code = RwSignal::new(initial.clone());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let stage = RwSignal::new(Stage::Typing);
    let lookup = ServerAction::<DeviceRequest>::new();
    let decide = ServerAction::<DecideDevice>::new();
    // What the holder chose, for the message once the server agreed.
    let chosen = RwSignal::new(false);
    Effect::new(move |_| match lookup.value().get() {
        Some(Ok(view)) => {
            errors.set(Vec::new());
            failure.set(None);
            stage.set(Stage::Asking(view));
        }
        Some(Err(e)) => {
            show_error(e, errors, failure);
            focus_later(summary);
        }
        None => {}
    });
    Effect::new(move |_| match decide.value().get() {
        Some(Ok(())) => {
            if let Stage::Asking(v) = stage.get_untracked() {
                stage.set(if chosen.get_untracked() { Stage::Approved(v.client_name) } else { Stage::Refused });
            }
        }
        Some(Err(e)) => {
            stage.set(Stage::Typing);
            show_error(e, errors, failure);
            focus_later(summary);
        }
        None => {}
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let typed: String = code.get_untracked().chars().filter(|c| c.is_ascii_alphabetic()).collect();
        if typed.len() != 8 {
            failure.set(None);
            errors.set(vec![FieldError { field: "code".into(), problem: FieldProblem::UnknownDeviceCode }]);
            focus_later(summary);
            return;
        }
        lookup.dispatch(DeviceRequest { code: typed });
    };
    let choose = move |approve: bool| {
        if let Stage::Asking(v) = stage.get_untracked() {
            chosen.set(approve);
            decide.dispatch(DecideDevice { code: v.user_code, approve });
        }
    };
    view! {
        {move || match stage.get() {
            Stage::Typing => view! {
                <p class="lead">{t.t(Msg::DeviceIntro)}</p>
                <ErrorSummary prefix="device" errors failure label_of node_ref=summary/>
                <form class="form" novalidate on:submit=on_submit>
                    <Field prefix="device" id="code" label=Msg::DeviceCodeLabel hint=Some(Msg::DeviceCodeHelp) value=code
                        initial=code.get_untracked() problem=problem_of(errors, "code") autocomplete="off" input_type="text"
                        maxlength=Some(12)/>
                    <div class="button-row">
                        <button type="submit" class="button button-primary" disabled=move || lookup.pending().get()>
                            {t.t(Msg::DeviceContinue)}
                        </button>
                    </div>
                </form>
            }.into_any(),
            Stage::Asking(v) => view! {
                <ConsentCard client=v.client_name.clone()>
                    <div class="button-row">
                        <button type="button" class="button button-primary" disabled=move || decide.pending().get()
                            on:click=move |_| choose(true)>{t.t(Msg::DeviceApprove)}</button>
                        <button type="button" class="button" disabled=move || decide.pending().get()
                            on:click=move |_| choose(false)>{t.t(Msg::DeviceRefuse)}</button>
                    </div>
                </ConsentCard>
            }.into_any(),
            Stage::Approved(client) => view! {
                <p class="notice notice-success" role="status">{t.fmt(Msg::DeviceApproved, &[("client", &client)])}</p>
            }.into_any(),
            Stage::Refused => view! {
                <p class="notice" role="status">{t.t(Msg::DeviceRefused)}</p>
            }.into_any(),
        }}
    }
}
