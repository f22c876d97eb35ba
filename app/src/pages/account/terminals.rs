//! "Mes terminaux" on the account page: the holder's passkeys (added through the browser) and
//! authenticator apps (added with a QR code and a first code), removed with one click; both
//! after the password typed again when the sign-in is more than five minutes old.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::api::{
    my_terminals, ConfirmTotp, FinishPasskey, NewRecoveryCodes, PhoneLinkView, RemoveTerminal, StartPasskey,
    StartPhoneLink, StartSecurityKey, StartTotp, TotpSetup,
};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::components::form::{focus_later, problem_of, show_error, ErrorSummary, Field};
use crate::domain::{FieldError, FieldProblem};
use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

use super::settings::Reauth;

#[derive(Clone, PartialEq)]
enum Stage {
    Idle,
    Naming(Kind),
    /// The password again, then `then` runs.
    Reauth(Then),
    Scanning(TotpSetup),
    /// The browser is asking the person for their key.
    Waiting,
    /// The link for the phone, as a QR code, until the holder is done on the phone.
    PhoneLink(PhoneLinkView),
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Passkey,
    /// A security key that may not verify its holder.
    SecurityKey,
    Totp,
    Phone,
}

#[derive(Clone, Copy, PartialEq)]
enum Then {
    Start(Kind),
    Remove(i64),
    Recovery,
}

fn label_of(field: &str) -> Msg {
    match field {
        "name" => Msg::FieldTerminalName,
        _ => Msg::FieldCode,
    }
}

#[component]
pub fn Terminals() -> impl IntoView {
    let t = use_i18n();
    let stage = RwSignal::new(Stage::Idle);
    let name = RwSignal::new(t.t(Msg::TerminalNameDefault).to_string());
    let code = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let done = RwSignal::new(None::<String>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let start = ServerAction::<StartTotp>::new();
    let confirm = ServerAction::<ConfirmTotp>::new();
    let start_key = ServerAction::<StartPasskey>::new();
    let start_security_key = ServerAction::<StartSecurityKey>::new();
    // Which kind of terminal is being added, for the notice at the end.
    let adding = RwSignal::new(Kind::Passkey);
    let start_phone = ServerAction::<StartPhoneLink>::new();
    let phone_done = RwSignal::new(0u32);
    let finish_key = ServerAction::<FinishPasskey>::new();
    let remove = ServerAction::<RemoveTerminal>::new();
    let renew = ServerAction::<NewRecoveryCodes>::new();
    let codes = RwSignal::new(Vec::<String>::new());
    let terminals = Resource::new(
        move || (confirm.version().get(), finish_key.version().get(), remove.version().get(), phone_done.get()),
        |_| my_terminals(),
    );

    let clear = move || {
        errors.set(Vec::new());
        failure.set(None);
    };
    let fail = move |e: AppError| {
        show_error(e, errors, failure);
        focus_later(summary);
    };
    Effect::new(move |_| match start.value().get() {
        Some(Ok(setup)) => {
            clear();
            code.set(String::new());
            stage.set(Stage::Scanning(setup));
        }
        Some(Err(AppError::ReauthRequired)) => stage.set(Stage::Reauth(Then::Start(Kind::Totp))),
        Some(Err(e)) => fail(e),
        None => {}
    });
    // A key's ceremony began (passkey or security key): the browser asks for the key.
    let key_started = move |value: Option<Result<crate::api::KeyCeremony, AppError>>, kind: Kind| match value {
        Some(Ok(ceremony)) => {
            clear();
            stage.set(Stage::Waiting);
            leptos::task::spawn_local(async move {
                match crate::components::webauthn::create_credential(ceremony.options).await {
                    Ok(response) => {
                        finish_key.dispatch(FinishPasskey { ceremony: ceremony.id, response });
                    }
                    Err(e) => {
                        stage.set(Stage::Naming(kind));
                        fail(e);
                    }
                }
            });
        }
        Some(Err(AppError::ReauthRequired)) => stage.set(Stage::Reauth(Then::Start(kind))),
        Some(Err(e)) => fail(e),
        None => {}
    };
    Effect::new(move |_| key_started(start_key.value().get(), Kind::Passkey));
    Effect::new(move |_| key_started(start_security_key.value().get(), Kind::SecurityKey));
    Effect::new(move |_| match start_phone.value().get() {
        Some(Ok(link)) => {
            clear();
            stage.set(Stage::PhoneLink(link));
        }
        Some(Err(AppError::ReauthRequired)) => stage.set(Stage::Reauth(Then::Start(Kind::Phone))),
        Some(Err(e)) => fail(e),
        None => {}
    });
    Effect::new(move |_| match finish_key.value().get() {
        Some(Ok(recovery)) => {
            clear();
            let notice = if adding.get_untracked() == Kind::SecurityKey {
                Msg::SecurityKeyAddedNotice
            } else {
                Msg::PasskeyAddedNotice
            };
            done.set(Some(t.fmt(notice, &[("name", &name.get_untracked())])));
            codes.set(recovery);
            stage.set(Stage::Idle);
        }
        Some(Err(AppError::ReauthRequired)) => stage.set(Stage::Reauth(Then::Start(Kind::Passkey))),
        Some(Err(e)) => {
            stage.set(Stage::Naming(Kind::Passkey));
            fail(e)
        }
        None => {}
    });
    Effect::new(move |_| match confirm.value().get() {
        Some(Ok(recovery)) => {
            clear();
            done.set(Some(t.fmt(Msg::TerminalAddedNotice, &[("name", &name.get_untracked())])));
            codes.set(recovery);
            stage.set(Stage::Idle);
        }
        Some(Err(AppError::ReauthRequired)) => stage.set(Stage::Reauth(Then::Start(Kind::Totp))),
        Some(Err(e)) => {
            code.set(String::new());
            fail(e)
        }
        None => {}
    });
    Effect::new(move |_| match remove.value().get() {
        Some(Ok(_)) => {
            clear();
            done.set(Some(t.t(Msg::TerminalRemovedNotice).to_string()));
        }
        Some(Err(AppError::ReauthRequired)) => {
            if let Some(RemoveTerminal { id }) = remove.input().get_untracked() {
                stage.set(Stage::Reauth(Then::Remove(id)));
            }
        }
        Some(Err(e)) => fail(e),
        None => {}
    });

    Effect::new(move |_| match renew.value().get() {
        Some(Ok(recovery)) => {
            clear();
            codes.set(recovery);
        }
        Some(Err(AppError::ReauthRequired)) => stage.set(Stage::Reauth(Then::Recovery)),
        Some(Err(e)) => fail(e),
        None => {}
    });

    let dispatch_kind = move |kind: Kind| match kind {
        Kind::Totp => {
            start.dispatch(StartTotp { name: name.get_untracked() });
        }
        Kind::Passkey => {
            start_key.dispatch(StartPasskey { name: name.get_untracked() });
        }
        Kind::SecurityKey => {
            start_security_key.dispatch(StartSecurityKey { name: name.get_untracked() });
        }
        Kind::Phone => {
            start_phone.dispatch(StartPhoneLink {});
        }
    };
    let dispatch_start = move |kind: Kind| {
        adding.set(kind);
        dispatch_kind(kind)
    };
    let begin = move |kind: Kind| {
        clear();
        done.set(None);
        if kind == Kind::Phone {
            // The phone is named on the phone itself.
            dispatch_start(kind);
            return;
        }
        let default = match kind {
            Kind::Passkey => Msg::PasskeyNameDefault,
            Kind::SecurityKey => Msg::SecurityKeyNameDefault,
            _ => Msg::TerminalNameDefault,
        };
        name.set(t.t(default).to_string());
        stage.set(Stage::Naming(kind));
    };
    let on_name = move |ev: SubmitEvent| {
        ev.prevent_default();
        done.set(None);
        if name.get_untracked().trim().is_empty() {
            failure.set(None);
            errors.set(vec![FieldError { field: "name".into(), problem: FieldProblem::Required }]);
            focus_later(summary);
            return;
        }
        if let Stage::Naming(kind) = stage.get_untracked() {
            dispatch_start(kind);
        }
    };
    let on_code = move |ev: SubmitEvent| {
        ev.prevent_default();
        let c: String = code.get_untracked().chars().filter(|c| !c.is_whitespace()).collect();
        if c.len() != 6 || !c.bytes().all(|b| b.is_ascii_digit()) {
            failure.set(None);
            errors.set(vec![FieldError { field: "code".into(), problem: FieldProblem::InvalidCode }]);
            focus_later(summary);
            return;
        }
        if let Stage::Scanning(s) = stage.get_untracked() {
            confirm.dispatch(ConfirmTotp { id: s.id, code: c });
        }
    };
    let after_reauth = Callback::new(move |_| match stage.get_untracked() {
        Stage::Reauth(Then::Start(kind)) => {
            stage.set(if kind == Kind::Phone { Stage::Idle } else { Stage::Naming(kind) });
            dispatch_start(kind);
        }
        Stage::Reauth(Then::Remove(id)) => {
            stage.set(Stage::Idle);
            remove.dispatch(RemoveTerminal { id });
        }
        Stage::Reauth(Then::Recovery) => {
            stage.set(Stage::Idle);
            renew.dispatch(NewRecoveryCodes {});
        }
        _ => {}
    });

    let list = move || {
        Suspend::new(async move {
            match terminals.await {
                Ok(list) if list.is_empty() => view! { <p class="hint">{t.t(Msg::TerminalsNone)}</p> }.into_any(),
                Ok(list) => view! {
                    <button type="button" class="button" on:click=move |_| { done.set(None); renew.dispatch(NewRecoveryCodes {}); }>
                        {t.t(Msg::RecoveryRenew)}
                    </button>
                    <ul class="terminals">
                        {list.into_iter().map(|term| {
                            let id = term.id;
                            let label = t.fmt(Msg::TerminalRemoveLabel, &[("name", &term.name)]);
                            let added = t.fmt(Msg::TerminalAddedOn, &[("date", &t.locale.date_time(&term.added))]);
                            let used = term.last_used.map(|d| t.fmt(Msg::TerminalLastUsed, &[("date", &t.locale.date_time(&d))]));
                            view! {
                                <li>
                                    <div>
                                        <strong>{term.name}</strong>
                                        <span class="hint">{t.t(match term.kind.as_str() {
                                            "passkey" if term.second_factor_only => Msg::TerminalKindSecurityKey,
                                            "passkey" => Msg::TerminalKindPasskey,
                                            "phone" => Msg::TerminalKindPhone,
                                            _ => Msg::TerminalKindTotp,
                                        })}</span>
                                        <span class="hint">{added}</span>
                                        {used.map(|u| view! { <span class="hint">{u}</span> })}
                                        {term.flagged.then(|| view! {
                                            <span class="notice notice-error">{t.t(Msg::TerminalFlagged)}</span>
                                        })}
                                    </div>
                                    <button type="button" class="button" aria-label=label
                                        on:click=move |_| { done.set(None); remove.dispatch(RemoveTerminal { id }); }>
                                        {t.t(Msg::TerminalRemove)}
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
            }
        })
    };

    view! {
        <p>{t.t(Msg::TerminalsIntro)}</p>
        {move || done.get().map(|d| view! { <p class="notice notice-success" role="status">{d}</p> })}
        {move || (!codes.with(Vec::is_empty)).then(|| view! {
            <div class="recovery-codes" role="group" aria-labelledby="recovery-title">
                <h3 id="recovery-title">{t.t(Msg::RecoveryTitle)}</h3>
                <p>{t.t(Msg::RecoveryIntro)}</p>
                <ol class="codes">{codes.get().into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ol>
                <div class="button-row">
                    <button type="button" class="button button-primary" on:click=move |_| print_page()>{t.t(Msg::RecoveryPrint)}</button>
                    <button type="button" class="button" on:click=move |_| codes.set(Vec::new())>{t.t(Msg::RecoveryKept)}</button>
                </div>
            </div>
        })}
        <Suspense fallback=Loading>{list}</Suspense>
        {move || match stage.get() {
            Stage::Idle => view! {
                <p class="hint">{t.t(Msg::PasskeyAddHint)}</p>
                <div class="button-row">
                    <button type="button" class="button button-primary" on:click=move |_| begin(Kind::Passkey)>
                        {t.t(Msg::TerminalAddPasskey)}
                    </button>
                    <button type="button" class="button" on:click=move |_| begin(Kind::Phone)>
                        {t.t(Msg::TerminalAddPhone)}
                    </button>
                    <button type="button" class="button" on:click=move |_| begin(Kind::Totp)>
                        {t.t(Msg::TerminalAddTotp)}
                    </button>
                    <button type="button" class="button" on:click=move |_| begin(Kind::SecurityKey)>
                        {t.t(Msg::TerminalAddSecurityKey)}
                    </button>
                </div>
            }.into_any(),
            Stage::PhoneLink(link) => view! {
                <div class="phone-link" role="group" aria-labelledby="phone-link-title">
                    <h3 id="phone-link-title">{t.t(Msg::PhoneLinkTitle)}</h3>
                    <p>{t.t(Msg::PhoneLinkSteps)}</p>
                    <div class="qr" role="img" aria-label=t.t(Msg::PhoneQrLabel) inner_html=link.qr_svg.clone()></div>
                    <p class="link-text"><a href=link.url.clone() id="phone-link">{link.url.clone()}</a></p>
                    <button type="button" class="button button-primary" on:click=move |_| {
                        stage.set(Stage::Idle);
                        phone_done.update(|n| *n += 1);
                    }>{t.t(Msg::PhoneLinkDone)}</button>
                </div>
            }.into_any(),
            Stage::Waiting => view! {
                <p class="notice" role="status">{t.t(Msg::PasskeyWaiting)}</p>
            }.into_any(),
            Stage::Reauth(_) => view! { <Reauth prefix="terminal" on_done=after_reauth/> }.into_any(),
            Stage::Naming(_) => view! {
                <ErrorSummary prefix="terminal" errors failure label_of node_ref=summary/>
                <form class="form" novalidate on:submit=on_name>
                    <Field prefix="terminal" id="name" label=Msg::FieldTerminalName hint=Some(Msg::FieldTerminalNameHint)
                        value=name initial=name.get_untracked() problem=problem_of(errors, "name") autocomplete="off"
                        input_type="text" maxlength=Some(60)/>
                    <div class="button-row">
                        <button type="submit" class="button button-primary">{t.t(Msg::Next)}</button>
                        <button type="button" class="button" on:click=move |_| stage.set(Stage::Idle)>{t.t(Msg::Cancel)}</button>
                    </div>
                </form>
            }.into_any(),
            Stage::Scanning(setup) => view! {
                <div class="totp-setup" role="group" aria-labelledby="totp-title">
                    <h3 id="totp-title">{t.t(Msg::TotpScanTitle)}</h3>
                    <ol class="steps">
                        <li>{t.t(Msg::TotpStepOpen)}</li>
                        <li>{t.t(Msg::TotpStepScan)}</li>
                        <li>{t.t(Msg::TotpStepCode)}</li>
                    </ol>
                    <div class="qr" role="img" aria-label=t.t(Msg::TotpQrLabel) inner_html=setup.qr_svg.clone()></div>
                    <p>{t.t(Msg::TotpManualKey)}" "<code class="totp-key" id="totp-key">{setup.manual_key.clone()}</code></p>
                    <p><a href=setup.otpauth_url.clone()>{t.t(Msg::TotpOpenLink)}</a></p>
                    <ErrorSummary prefix="terminal" errors failure label_of node_ref=summary/>
                    <form class="form" novalidate on:submit=on_code>
                        <Field prefix="terminal" id="code" label=Msg::FieldCode hint=None value=code initial=String::new()
                            problem=problem_of(errors, "code") autocomplete="one-time-code" input_type="text"
                            maxlength=Some(7) inputmode="numeric"/>
                        <div class="button-row">
                            <button type="submit" class="button button-primary">{t.t(Msg::TotpConfirm)}</button>
                            <button type="button" class="button" on:click=move |_| stage.set(Stage::Idle)>{t.t(Msg::Cancel)}</button>
                        </div>
                    </form>
                </div>
            }.into_any(),
        }}
    }
}

/// Opens the browser's print dialog (the recovery codes, on paper).
fn print_page() {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.print();
    }
}
