use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

use crate::api::{
    ApprovalAsked, AskPhone, CodeSent, FinishPasskeySignIn, FinishPasskeyStep, PhoneAnswered, ResendSignInCode,
    SignInCode, SignInPassword, StartPasskeySignIn, StartPasskeyStep,
};
use crate::components::form::{focus_later, problem_of, show_error, ErrorSummary, Field};
use crate::components::webauthn;
use crate::domain::{FieldError, FieldProblem};
use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

fn label_of(field: &str) -> Msg {
    match field {
        "address" => Msg::FieldAddress,
        "password" => Msg::FieldPassword,
        _ => Msg::FieldCode,
    }
}

/// Whether `suite` is a page the sign-in may lead back to: the phone page that sent the person
/// here (`/telephone/…`), the device page (`/appareil…`) or the OAuth consent page
/// (`/autoriser?…`), nothing else (no open redirect).
pub(crate) fn safe_return(suite: &str) -> bool {
    let phone =
        suite.starts_with("/telephone/") && suite.len() <= 80 && suite[11..].bytes().all(|b| b.is_ascii_hexdigit());
    // The device page, with the code the software showed (letters and a dash only).
    let device = suite == "/appareil"
        || suite
            .strip_prefix("/appareil?code=")
            .is_some_and(|c| c.len() <= 12 && c.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'));
    // The OAuth consent page, with the authorization request in its query (a fixed path, so
    // no open redirect whatever the query says; its redirect URI comes decoded, `http://…:port`).
    let consent = suite
        .strip_prefix("/autoriser?")
        .is_some_and(|q| q.len() <= 2048 && q.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%&=+/:".contains(&b)));
    phone || device || consent
}

/// Where to go once signed in: `next` from the server, or back to the page that sent the person
/// here (`?suite=…`, see [`safe_return`]); when the terms are to be accepted first, the terms
/// page, which leads there next.
fn destination(next: String) -> String {
    let suite = leptos_router::hooks::use_query_map().with_untracked(|q| q.get("suite").unwrap_or_default());
    if !safe_return(&suite) {
        return next;
    }
    match next.as_str() {
        "/messagerie" => suite,
        "/compte/cgu" => format!("/compte/cgu?suite={}", crate::encode_query_value(&suite)),
        _ => next,
    }
}

/// Goes to `to` once signed in: the consent page with a full load (its own policy lets its
/// form lead to the software), any other page within the application.
pub(crate) fn go_after_sign_in(to: &str, navigate: impl Fn(&str, leptos_router::NavigateOptions)) {
    if to.starts_with("/autoriser?") {
        if let Err(e) = window().location().set_href(to) {
            leptos::logging::error!("{e:?}");
        }
    } else {
        navigate(to, Default::default())
    }
}

/// `/connexion`: address and password, then the one-time code.
#[component]
pub fn SignInPage() -> impl IntoView {
    let t = use_i18n();
    let step = RwSignal::new(None::<CodeSent>);
    view! {
        <Title text=t.t(Msg::SignInTitle)/>
        <h1>{t.t(Msg::SignInTitle)}</h1>
        <section class="card narrow">
            <Show when=move || step.with(Option::is_none) fallback=move || view! { <CodeForm step/> }>
                <PasswordForm step/>
            </Show>
        </section>
    }
}

fn required(pairs: &[(&str, &str)]) -> Vec<FieldError> {
    pairs
        .iter()
        .filter(|(_, v)| v.trim().is_empty())
        .map(|(f, _)| FieldError { field: (*f).into(), problem: FieldProblem::Required })
        .collect()
}

#[component]
fn PasswordForm(step: RwSignal<Option<CodeSent>>) -> impl IntoView {
    let t = use_i18n();
    let address = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let action = ServerAction::<SignInPassword>::new();
    let pending = action.pending();
    let key_start = ServerAction::<StartPasskeySignIn>::new();
    let key_finish = ServerAction::<FinishPasskeySignIn>::new();
    let key_busy = RwSignal::new(false);
    // Known only in the browser: the button appears once the page can use it.
    let key_supported = RwSignal::new(false);
    Effect::new(move |_| key_supported.set(webauthn::supported()));
    let navigate = use_navigate();
    let session = use_context::<crate::env::SignedIn>();
    let key_failed = move |e: AppError| {
        key_busy.set(false);
        errors.set(Vec::new());
        failure.set(Some(e));
        focus_later(summary);
    };
    Effect::new(move |_| match key_start.value().get() {
        Some(Ok(ceremony)) => leptos::task::spawn_local(async move {
            match webauthn::get_credential(ceremony.options).await {
                Ok(response) => {
                    key_finish.dispatch(FinishPasskeySignIn { ceremony: ceremony.id, response });
                }
                Err(e) => key_failed(e),
            }
        }),
        Some(Err(e)) => key_failed(e),
        None => {}
    });
    Effect::new(move |_| match key_finish.value().get() {
        Some(Ok(next)) => {
            if let Some(crate::env::SignedIn(s)) = session {
                s.set(true);
            }
            go_after_sign_in(&destination(next), &navigate)
        }
        Some(Err(e)) => key_failed(e),
        None => {}
    });
    let on_key = move |_| {
        if key_busy.get_untracked() {
            return;
        }
        key_busy.set(true);
        failure.set(None);
        key_start.dispatch(StartPasskeySignIn {});
    };

    Effect::new(move |_| match action.value().get() {
        Some(Ok(sent)) => step.set(Some(sent)),
        Some(Err(e)) => {
            show_error(e, errors, failure);
            password.set(String::new());
            focus_later(summary);
        }
        None => {}
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let (a, p) = (address.get_untracked(), password.get_untracked());
        let missing = required(&[("address", &a), ("password", &p)]);
        failure.set(None);
        if !missing.is_empty() {
            errors.set(missing);
            focus_later(summary);
            return;
        }
        errors.set(Vec::new());
        action.dispatch(SignInPassword { address: a, password: p, prefer_email: false });
    };

    view! {
        <p>{t.t(Msg::SignInIntro)}</p>
        <ErrorSummary prefix="signin" errors failure label_of node_ref=summary/>
        <form class="form" novalidate on:submit=on_submit>
            <Field prefix="signin" id="address" label=Msg::FieldAddress hint=Some(Msg::FieldAddressHint) value=address
                initial=String::new() problem=problem_of(errors, "address") autocomplete="username" input_type="email"
                maxlength=Some(254)/>
            <Field prefix="signin" id="password" label=Msg::FieldPassword hint=None value=password initial=String::new()
                problem=problem_of(errors, "password") autocomplete="current-password" input_type="password"
                maxlength=None/>
            <div class="button-row">
                <button type="submit" class="button button-primary" disabled=move || pending.get()>
                    {move || if pending.get() { t.t(Msg::SignInWorking) } else { t.t(Msg::SignInSubmit) }}
                </button>
                <a href="/mot-de-passe-oublie">{t.t(Msg::ForgotLink)}</a>
            </div>
        </form>
        <Show when=move || key_supported.get()>
            <div class="alternative passkey-signin">
                <p class="separator">{t.t(Msg::SignInOr)}</p>
                <button type="button" class="button" on:click=on_key disabled=move || key_busy.get()>
                    {t.t(Msg::SignInPasskey)}
                </button>
                <p class="hint">{t.t(Msg::SignInPasskeyHint)}</p>
            </div>
        </Show>
    }
}

#[component]
fn CodeForm(step: RwSignal<Option<CodeSent>>) -> impl IntoView {
    let t = use_i18n();
    let code = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let info = RwSignal::new(None::<&'static str>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let verify = ServerAction::<SignInCode>::new();
    let resend = ServerAction::<ResendSignInCode>::new();
    let key_start = ServerAction::<StartPasskeyStep>::new();
    let key_finish = ServerAction::<FinishPasskeyStep>::new();
    let key_busy = RwSignal::new(false);
    let pending = verify.pending();
    let navigate = use_navigate();
    let session = use_context::<crate::env::SignedIn>();
    let signed_in = move |next: String| {
        if let Some(crate::env::SignedIn(s)) = session {
            s.set(true);
        }
        go_after_sign_in(&destination(next), &navigate);
    };
    let key_failed = move |e: AppError| {
        key_busy.set(false);
        info.set(None);
        errors.set(Vec::new());
        failure.set(Some(e));
        focus_later(summary);
    };
    Effect::new(move |_| match key_start.value().get() {
        Some(Ok(ceremony)) => leptos::task::spawn_local(async move {
            match webauthn::get_credential(ceremony.options).await {
                Ok(response) => {
                    key_finish.dispatch(FinishPasskeyStep { ceremony: ceremony.id, response });
                }
                Err(e) => key_failed(e),
            }
        }),
        Some(Err(e)) => key_failed(e),
        None => {}
    });
    let signed_in_key = signed_in.clone();
    Effect::new(move |_| match key_finish.value().get() {
        Some(Ok(next)) => signed_in_key(next),
        Some(Err(e)) => key_failed(e),
        None => {}
    });
    let on_key = move |_| {
        if key_busy.get_untracked() {
            return;
        }
        key_busy.set(true);
        failure.set(None);
        key_start.dispatch(StartPasskeyStep {});
    };

    // The phone's approval: the number to choose there, then a poll every two seconds.
    let ask = ServerAction::<AskPhone>::new();
    let answered = ServerAction::<PhoneAnswered>::new();
    let asked = RwSignal::new(None::<ApprovalAsked>);
    let poll = StoredValue::new(None::<IntervalHandle>);
    let stop_polling = move || {
        if let Some(h) = poll.get_value() {
            h.clear();
        }
        poll.set_value(None);
    };
    Effect::new(move |_| match ask.value().get() {
        Some(Ok(a)) => {
            failure.set(None);
            let id = a.id.clone();
            asked.set(Some(a));
            stop_polling();
            if let Ok(h) = set_interval_with_handle(
                move || {
                    if !answered.pending().get_untracked() {
                        answered.dispatch(PhoneAnswered { id: id.clone() });
                    }
                },
                std::time::Duration::from_secs(2),
            ) {
                poll.set_value(Some(h));
            }
        }
        Some(Err(e)) => {
            asked.set(None);
            key_failed(e)
        }
        None => {}
    });
    let signed_in_phone = signed_in.clone();
    Effect::new(move |_| match answered.value().get() {
        Some(Ok(Some(next))) => {
            stop_polling();
            signed_in_phone(next)
        }
        Some(Err(e)) => {
            stop_polling();
            asked.set(None);
            key_failed(e)
        }
        _ => {}
    });
    on_cleanup(stop_polling);
    let on_phone = move |_| {
        failure.set(None);
        info.set(None);
        ask.dispatch(AskPhone {});
    };

    Effect::new(move |_| match verify.value().get() {
        Some(Ok(next)) => signed_in(next),
        Some(Err(e)) => {
            show_error(e, errors, failure);
            code.set(String::new());
            focus_later(summary);
        }
        None => {}
    });
    Effect::new(move |_| match resend.value().get() {
        Some(Ok(sent)) => {
            failure.set(None);
            errors.set(Vec::new());
            info.set(Some(t.t(Msg::CodeResent)));
            step.set(Some(sent));
        }
        Some(Err(e)) => {
            info.set(None);
            show_error(e, errors, failure);
            focus_later(summary);
        }
        None => {}
    });

    // A terminal is asked for (nothing was sent): its code, or a recovery code, is typed here.
    let app_code =
        move || step.with(|s| s.as_ref().is_some_and(|s| matches!(s.channel.as_str(), "totp" | "passkey" | "phone")));
    let passkey = move || step.with(|s| s.as_ref().is_some_and(|s| s.channel == "passkey"));
    let phone = move || step.with(|s| s.as_ref().is_some_and(|s| s.phone));
    let phone_first = move || step.with(|s| s.as_ref().is_some_and(|s| s.channel == "phone"));
    let totp = move || step.with(|s| s.as_ref().is_some_and(|s| s.channel == "totp" || s.totp));
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let c: String = code.get_untracked().chars().filter(|c| !c.is_whitespace()).collect();
        failure.set(None);
        info.set(None);
        let digits = c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit());
        // With an authenticator app, a recovery code (abcde-23456) works too.
        let recovery = app_code() && c.chars().filter(|c| c.is_ascii_alphanumeric()).count() == 10;
        if !digits && !recovery {
            errors.set(vec![FieldError { field: "code".into(), problem: FieldProblem::InvalidCode }]);
            focus_later(summary);
            return;
        }
        errors.set(Vec::new());
        verify.dispatch(SignInCode { code: c });
    };
    let sent_text = move || {
        step.with(|s| {
            s.as_ref().map(|s| match s.channel.as_str() {
                "passkey" => t.t(Msg::CodePasskeyPrompt).to_string(),
                "totp" => t.t(Msg::CodeTotpPrompt).to_string(),
                "sms" => t.fmt(Msg::CodeSentSms, &[("to", &s.hint)]),
                _ => t.fmt(Msg::CodeSentEmail, &[("to", &s.hint)]),
            })
        })
    };
    let email_possible = move || step.with(|s| s.as_ref().is_some_and(|s| s.email_possible));
    let sms_possible = move || step.with(|s| s.as_ref().is_some_and(|s| s.sms_possible));
    let expired = move || failure.with(|f| matches!(f, Some(AppError::CodeExpired) | Some(AppError::Locked)));

    view! {
        <h2>{move || if passkey() {
            t.t(Msg::CodePasskeyTitle)
        } else if phone_first() {
            t.t(Msg::CodePhoneTitle)
        } else if app_code() {
            t.t(Msg::CodeTotpTitle)
        } else {
            t.t(Msg::CodeTitle)
        }}</h2>
        <p role="status">{sent_text}</p>
        {move || info.get().map(|i| view! { <p class="notice notice-success" role="status">{i}</p> })}
        <ErrorSummary prefix="signin" errors failure label_of node_ref=summary/>
        <Show
            when=move || !expired()
            fallback=move || view! {
                <button type="button" class="button button-primary" on:click=move |_| step.set(None)>
                    {t.t(Msg::CodeRestart)}
                </button>
            }
        >
            <Show when=passkey>
                <div class="button-row">
                    <button type="button" class="button button-primary" on:click=on_key disabled=move || key_busy.get()>
                        {t.t(Msg::CodeUsePasskey)}
                    </button>
                </div>
            </Show>
            <Show when=phone>
                {move || match asked.get() {
                    Some(a) => view! {
                        <div class="phone-approval" role="group" aria-labelledby="phone-number-label">
                            <p id="phone-number-label">{t.t(Msg::CodePhonePrompt)}</p>
                            <p class="phone-number" aria-live="polite">{a.number}</p>
                            <p class="hint" role="status">{t.t(Msg::CodePhoneWaiting)}</p>
                        </div>
                    }.into_any(),
                    None => view! {
                        <div class="button-row">
                            <button type="button" class=move || if phone_first() { "button button-primary" } else { "button" }
                                on:click=on_phone disabled=move || ask.pending().get()>
                                {t.t(Msg::CodeUsePhone)}
                            </button>
                        </div>
                    }.into_any(),
                }}
            </Show>
            <Show when=move || passkey() || phone_first()>
                <p>{move || if totp() { t.t(Msg::CodeOrTerminal) } else { t.t(Msg::CodeOrRecovery) }}</p>
            </Show>
            <form class="form" novalidate on:submit=on_submit>
                {move || if (passkey() || phone_first()) && !totp() {
                    view! {
                        <Field prefix="signin" id="code" label=Msg::FieldRecoveryCode hint=Some(Msg::FieldRecoveryCodeHint)
                            value=code initial=String::new() problem=problem_of(errors, "code")
                            autocomplete="off" input_type="text" maxlength=Some(11)/>
                    }.into_any()
                } else if app_code() {
                    view! {
                        <Field prefix="signin" id="code" label=Msg::FieldTerminalCode hint=Some(Msg::FieldTerminalCodeHint)
                            value=code initial=String::new() problem=problem_of(errors, "code")
                            autocomplete="one-time-code" input_type="text" maxlength=Some(11)/>
                    }.into_any()
                } else {
                    view! {
                        <Field prefix="signin" id="code" label=Msg::FieldCode hint=None value=code initial=String::new()
                            problem=problem_of(errors, "code") autocomplete="one-time-code" input_type="text"
                            maxlength=Some(7) inputmode="numeric"/>
                    }.into_any()
                }}
                <div class="button-row">
                    <button type="submit" class=move || if passkey() || phone_first() { "button" } else { "button button-primary" }
                        disabled=move || pending.get()>
                        {move || if pending.get() { t.t(Msg::SignInWorking) } else { t.t(Msg::CodeSubmit) }}
                    </button>
                    <Show when=move || !app_code()>
                        <button type="button" class="button" on:click=move |_| { resend.dispatch(ResendSignInCode { to_email: false }); }>
                            {t.t(Msg::CodeResend)}
                        </button>
                    </Show>
                </div>
            </form>
            <Show when=sms_possible>
                <div class="alternative">
                    <button type="button" class="button" on:click=move |_| { resend.dispatch(ResendSignInCode { to_email: false }); }>
                        {t.t(Msg::CodeUseSms)}
                    </button>
                </div>
            </Show>
            <Show when=email_possible>
                <div class="alternative">
                    <button type="button" class="button" on:click=move |_| { resend.dispatch(ResendSignInCode { to_email: true }); }>
                        {t.t(Msg::CodeUseEmail)}
                    </button>
                    <p class="hint">{t.t(Msg::CodeEmailWeaker)}</p>
                </div>
            </Show>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::safe_return;

    #[test]
    fn only_hygies_own_pages_are_returned_to() {
        assert!(safe_return("/telephone/0a1b2c"));
        assert!(safe_return("/appareil?code=ABCD-EFGH"));
        assert!(safe_return(
            "/autoriser?response_type=code&client_id=hygie-1f&redirect_uri=http://127.0.0.1:46651/callback&state=e%20t"
        ));
        for other in [
            "",
            "//evil.example/autoriser?",
            "https://evil.example/",
            "/messagerie",
            "/autoriser",
            "/autoriser?state=<script>",
            "/autoriser?a=b c",
            "/autoriser?a=b\r\nLocation:x",
            "/telephone/../compte",
            "/appareil?code=AB;CD",
        ] {
            assert!(!safe_return(other), "{other:?}");
        }
    }
}
