//! Pages reached from links in emails, and the "forgot password" request.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{reset_link_info, ActivateAccount, ForgotPassword, ResetPassword, UnlockAccount};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::components::form::{focus_later, problem_of, show_error, ErrorSummary, Field};
use crate::domain::FieldError;
use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

fn label_of(field: &str) -> Msg {
    match field {
        "address" => Msg::FieldAddress,
        "code" => Msg::FieldCode,
        _ => Msg::FieldNewPassword,
    }
}

fn token_param() -> String {
    use_params_map().with_untracked(|p| p.get("token").unwrap_or_default())
}

fn done_notice(text: &'static str) -> impl IntoView {
    let t = use_i18n();
    view! {
        <div class="notice notice-success" role="status">
            <p>{text}</p>
            <p><a href="/connexion">{t.t(Msg::GoToSignIn)}</a></p>
        </div>
    }
}

/// `/activation/:token`: choose the first password.
#[component]
pub fn ActivationPage() -> impl IntoView {
    let t = use_i18n();
    let token = token_param();
    let password = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let action = ServerAction::<ActivateAccount>::new();
    Effect::new(move |_| {
        if let Some(Err(e)) = action.value().get() {
            show_error(e, errors, failure);
            focus_later(summary);
        }
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        action.dispatch(ActivateAccount { token: token.clone(), password: password.get_untracked() });
    };
    view! {
        <Title text=t.t(Msg::ActivationTitle)/>
        <h1>{t.t(Msg::ActivationTitle)}</h1>
        <section class="card narrow">
            <Show when=move || !matches!(action.value().get(), Some(Ok(()))) fallback=|| done_notice(use_i18n().t(Msg::ActivationDone))>
                <p>{t.t(Msg::ActivationIntro)}</p>
                <ErrorSummary prefix="activation" errors failure label_of node_ref=summary/>
                <form class="form" novalidate on:submit=on_submit.clone()>
                    <Field prefix="activation" id="password" label=Msg::FieldNewPassword hint=Some(Msg::FieldNewPasswordHint)
                        value=password initial=String::new() problem=problem_of(errors, "password")
                        autocomplete="new-password" input_type="password" maxlength=None/>
                    <button type="submit" class="button button-primary" disabled=move || action.pending().get()>
                        {t.t(Msg::ActivationSubmit)}
                    </button>
                </form>
            </Show>
        </section>
    }
}

/// `/mot-de-passe-oublie`: ask for a reset link.
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let t = use_i18n();
    let address = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let action = ServerAction::<ForgotPassword>::new();
    Effect::new(move |_| {
        if let Some(Err(e)) = action.value().get() {
            show_error(e, errors, failure);
            focus_later(summary);
        }
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let a = address.get_untracked();
        if a.trim().is_empty() {
            errors.set(vec![FieldError { field: "address".into(), problem: crate::domain::FieldProblem::Required }]);
            focus_later(summary);
            return;
        }
        action.dispatch(ForgotPassword { address: a });
    };
    view! {
        <Title text=t.t(Msg::ForgotTitle)/>
        <h1>{t.t(Msg::ForgotTitle)}</h1>
        <section class="card narrow">
            <Show when=move || !matches!(action.value().get(), Some(Ok(())))
                fallback=move || view! { <p class="notice notice-success" role="status">{t.t(Msg::ForgotDone)}</p> }>
                <p>{t.t(Msg::ForgotIntro)}</p>
                <ErrorSummary prefix="forgot" errors failure label_of node_ref=summary/>
                <form class="form" novalidate on:submit=on_submit>
                    <Field prefix="forgot" id="address" label=Msg::FieldAddress hint=Some(Msg::FieldAddressHint)
                        value=address initial=String::new() problem=problem_of(errors, "address") autocomplete="username"
                        input_type="email" maxlength=Some(254)/>
                    <button type="submit" class="button button-primary" disabled=move || action.pending().get()>
                        {t.t(Msg::ForgotSubmit)}
                    </button>
                </form>
            </Show>
        </section>
    }
}

/// `/reinitialisation/:token`: the new password, and the SMS code when one was sent.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let t = use_i18n();
    let token = token_param();
    let info = Resource::new(
        {
            let token = token.clone();
            move || token.clone()
        },
        reset_link_info,
    );
    view! {
        <Title text=t.t(Msg::ResetTitle)/>
        <h1>{t.t(Msg::ResetTitle)}</h1>
        <section class="card narrow">
            <Suspense fallback=Loading>
                {move || {
                    let token = token.clone();
                    Suspend::new(async move {
                        match info.await {
                            Ok(i) => view! { <ResetForm token needs_code=i.needs_code terminal=i.terminal/> }.into_any(),
                            Err(error) => view! {
                                <ErrorNotice error/>
                                <p><a href="/mot-de-passe-oublie">{t.t(Msg::ForgotSubmit)}</a></p>
                            }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn ResetForm(token: String, needs_code: bool, terminal: bool) -> impl IntoView {
    let t = use_i18n();
    let code = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let action = ServerAction::<ResetPassword>::new();
    Effect::new(move |_| {
        if let Some(Err(e)) = action.value().get() {
            show_error(e, errors, failure);
            focus_later(summary);
        }
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        action.dispatch(ResetPassword {
            token: token.clone(),
            code: code.get_untracked(),
            password: password.get_untracked(),
        });
    };
    view! {
        <Show when=move || !matches!(action.value().get(), Some(Ok(()))) fallback=|| done_notice(use_i18n().t(Msg::ResetDone))>
            <ErrorSummary prefix="reset" errors failure label_of node_ref=summary/>
            <form class="form" novalidate on:submit=on_submit.clone()>
                {(needs_code && !terminal).then(|| view! {
                    <Field prefix="reset" id="code" label=Msg::FieldCode hint=Some(Msg::ResetCodeHint) value=code
                        initial=String::new() problem=problem_of(errors, "code") autocomplete="one-time-code"
                        input_type="text" maxlength=Some(7) inputmode="numeric"/>
                })}
                {terminal.then(|| view! {
                    <Field prefix="reset" id="code" label=Msg::FieldTerminalCode hint=Some(Msg::FieldTerminalCodeHint)
                        value=code initial=String::new() problem=problem_of(errors, "code") autocomplete="one-time-code"
                        input_type="text" maxlength=Some(11)/>
                })}
                <Field prefix="reset" id="password" label=Msg::FieldNewPassword hint=Some(Msg::FieldNewPasswordHint)
                    value=password initial=String::new() problem=problem_of(errors, "password")
                    autocomplete="new-password" input_type="password" maxlength=None/>
                <button type="submit" class="button button-primary" disabled=move || action.pending().get()>
                    {t.t(Msg::ResetSubmit)}
                </button>
            </form>
        </Show>
    }
}

/// `/deverrouillage/:token`: a button, so that mail scanners following links unlock nothing.
#[component]
pub fn UnlockPage() -> impl IntoView {
    let t = use_i18n();
    let token = token_param();
    let action = ServerAction::<UnlockAccount>::new();
    view! {
        <Title text=t.t(Msg::UnlockTitle)/>
        <h1>{t.t(Msg::UnlockTitle)}</h1>
        <section class="card narrow">
            {move || match action.value().get() {
                Some(Ok(())) => done_notice(t.t(Msg::UnlockDone)).into_any(),
                Some(Err(error)) => view! { <ErrorNotice error/> }.into_any(),
                None => {
                    let token = token.clone();
                    view! {
                        <p>{t.t(Msg::UnlockIntro)}</p>
                        <button type="button" class="button button-primary"
                            on:click=move |_| { action.dispatch(UnlockAccount { token: token.clone() }); }>
                            {t.t(Msg::UnlockSubmit)}
                        </button>
                    }.into_any()
                }
            }}
        </section>
    }
}
