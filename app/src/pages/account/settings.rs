use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_navigate;

use crate::api::{
    mail_receipt_setting, mail_undo_delay, my_account, my_sessions, AccountView, ChangePassword, CodeSent,
    ConfirmChangeDestination, EndSessions, MailSetReceiptSetting, MailSetUndoDelay, PreferencesView, Reauthenticate,
    SavePreferences, SignOut, StartChangeDestination,
};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::components::form::{focus_later, problem_of, show_error, ErrorSummary, Field};
use crate::domain::{FieldError, FieldProblem};
use crate::error::AppError;
use crate::i18n::Msg;
use crate::use_i18n;

/// `/compte`: identity, notification details, password, terminals, preferences, sessions.
#[component]
pub fn AccountPage() -> impl IntoView {
    let t = use_i18n();
    let account = Resource::new(|| (), |_| my_account());
    view! {
        <Title text=t.t(Msg::AccountTitle)/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(a) => view! { <AccountSections a refetch=Callback::new(move |_| account.refetch())/> }.into_any(),
                    Err(AppError::Unauthorized) => view! { <Redirect path="/connexion"/> }.into_any(),
                    Err(AppError::TermsPending) => view! { <Redirect path="/compte/cgu"/> }.into_any(),
                    Err(error) => view! { <h1>{t.t(Msg::AccountTitle)}</h1><ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AccountSections(a: AccountView, refetch: Callback<()>) -> impl IntoView {
    let t = use_i18n();
    let sign_out = ServerAction::<SignOut>::new();
    let session = use_context::<crate::env::SignedIn>();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if sign_out.value().get().is_some() {
            if let Some(crate::env::SignedIn(s)) = session {
                s.set(false);
            }
            navigate("/connexion", Default::default());
        }
    });
    let kind = if a.kind == "health" { t.t(Msg::KindHealth) } else { t.t(Msg::KindOther) };
    let name = format!("{} {}", a.first_name, a.last_name);
    let mobile = a.mobile.clone().unwrap_or_else(|| t.t(Msg::AccountNoMobile).to_string());
    view! {
        <div class="page-head">
            <h1>{t.t(Msg::AccountTitle)}</h1>
            <div class="button-row">
                <a class="button" href="/messagerie">{t.t(Msg::NavMail)}</a>
                <button type="button" class="button" on:click=move |_| { sign_out.dispatch(SignOut {}); }>
                    {t.t(Msg::SignOut)}
                </button>
            </div>
        </div>
        <section class="card" aria-labelledby="identity-title">
            <h2 id="identity-title">{t.t(Msg::AccountIdentity)}</h2>
            <dl class="details">
                <dt>{t.t(Msg::AccountAddress)}</dt><dd>{a.address.clone()}</dd>
                <dt>{t.t(Msg::AccountName)}</dt><dd>{name}</dd>
                <dt>{t.t(Msg::AccountKind)}</dt><dd>{kind}{a.profession.clone().map(|p| format!(" — {p}"))}</dd>
                {a.identifier.clone().map(|i| view! { <dt>{t.t(Msg::AccountIdentifier)}</dt><dd>{i}</dd> })}
            </dl>
        </section>
        <section class="card" aria-labelledby="contact-title">
            <h2 id="contact-title">{t.t(Msg::AccountContact)}</h2>
            <Destination kind="email" label=Msg::AccountNotificationEmail field_label=Msg::FieldNewEmail
                hint=None current=a.notification_email.clone() refetch/>
            <Destination kind="mobile" label=Msg::AccountMobile field_label=Msg::FieldNewMobile
                hint=Some(Msg::FieldNewMobileHint) current=mobile refetch/>
        </section>
        <section class="card" aria-labelledby="password-title">
            <h2 id="password-title">{t.t(Msg::AccountPassword)}</h2>
            <PasswordChange/>
        </section>
        <section class="card" aria-labelledby="terminals-title">
            <h2 id="terminals-title">{t.t(Msg::AccountTerminals)}</h2>
            <super::terminals::Terminals/>
            <h3 id="clients-title">{t.t(Msg::ClientsTitle)}</h3>
            <super::clients::ConnectedClients/>
        </section>
        <section class="card" aria-labelledby="prefs-title">
            <h2 id="prefs-title">{t.t(Msg::AccountPreferences)}</h2>
            <Preferences prefs=a.prefs/>
            <ReadReceipts/>
        </section>
        <section class="card" aria-labelledby="undo-title">
            <h2 id="undo-title">{t.t(Msg::UndoDelayTitle)}</h2>
            <UndoDelay/>
        </section>
        <section class="card" aria-labelledby="sessions-title">
            <h2 id="sessions-title">{t.t(Msg::AccountSessions)}</h2>
            <Sessions/>
        </section>
    }
}

/// Asks for the password again before a sensitive change; calls `on_done` once confirmed.
#[component]
pub(super) fn Reauth(prefix: &'static str, on_done: Callback<()>) -> impl IntoView {
    let t = use_i18n();
    let password = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let action = ServerAction::<Reauthenticate>::new();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => on_done.run(()),
        Some(Err(e)) => {
            show_error(e, errors, failure);
            focus_later(summary);
        }
        None => {}
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        action.dispatch(Reauthenticate { password: password.get_untracked() });
    };
    view! {
        <div class="reauth" role="group" aria-labelledby=format!("{prefix}-reauth-title")>
            <h3 id=format!("{prefix}-reauth-title")>{t.t(Msg::ReauthTitle)}</h3>
            <p class="hint">{t.t(Msg::ErrReauthRequired)}</p>
            <ErrorSummary prefix errors failure label_of=|_| Msg::FieldPassword node_ref=summary/>
            <form class="form" novalidate on:submit=on_submit>
                <Field prefix id="reauth" label=Msg::FieldPassword hint=None value=password initial=String::new()
                    problem=problem_of(errors, "password") autocomplete="current-password" input_type="password"
                    maxlength=None/>
                <button type="submit" class="button button-primary">{t.t(Msg::Confirm)}</button>
            </form>
        </div>
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Shown,
    Editing,
    Reauth,
    Code,
}

/// A notification destination (email or mobile), changed with a code sent to the new one.
#[component]
fn Destination(
    kind: &'static str,
    label: Msg,
    field_label: Msg,
    hint: Option<Msg>,
    current: String,
    refetch: Callback<()>,
) -> impl IntoView {
    let t = use_i18n();
    let stage = RwSignal::new(Stage::Shown);
    let value = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let sent = RwSignal::new(None::<CodeSent>);
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let summary = NodeRef::<leptos::html::Div>::new();
    let start = ServerAction::<StartChangeDestination>::new();
    let confirm = ServerAction::<ConfirmChangeDestination>::new();
    let field = if kind == "email" { "email" } else { "mobile" };
    let prefix = if kind == "email" { "change-email" } else { "change-mobile" };
    let label_of: fn(&str) -> Msg = |f| match f {
        "code" => Msg::FieldCode,
        "email" => Msg::FieldNewEmail,
        _ => Msg::FieldNewMobile,
    };

    let send = move || start.dispatch(StartChangeDestination { kind: kind.into(), value: value.get_untracked() });
    Effect::new(move |_| match start.value().get() {
        Some(Ok(s)) => {
            errors.set(Vec::new());
            failure.set(None);
            sent.set(Some(s));
            stage.set(Stage::Code);
        }
        Some(Err(AppError::ReauthRequired)) => stage.set(Stage::Reauth),
        Some(Err(e)) => {
            show_error(e, errors, failure);
            focus_later(summary);
        }
        None => {}
    });
    Effect::new(move |_| match confirm.value().get() {
        Some(Ok(())) => {
            stage.set(Stage::Shown);
            refetch.run(());
        }
        Some(Err(AppError::ReauthRequired)) => stage.set(Stage::Reauth),
        Some(Err(e)) => {
            show_error(e, errors, failure);
            focus_later(summary);
        }
        None => {}
    });

    let on_value = move |ev: SubmitEvent| {
        ev.prevent_default();
        failure.set(None);
        if value.get_untracked().trim().is_empty() {
            errors.set(vec![FieldError { field: field.into(), problem: FieldProblem::Required }]);
            focus_later(summary);
            return;
        }
        send();
    };
    let on_code = move |ev: SubmitEvent| {
        ev.prevent_default();
        let challenge = sent.with_untracked(|s| s.as_ref().map(|s| s.challenge).unwrap_or_default());
        confirm.dispatch(ConfirmChangeDestination { challenge, code: code.get_untracked() });
    };
    let sent_text = move || {
        sent.with(|s| {
            s.as_ref().map(|s| {
                let m = if s.channel == "sms" { Msg::ConfirmCodeSentSms } else { Msg::ConfirmCodeSentEmail };
                t.fmt(m, &[("to", &s.hint)])
            })
        })
    };
    let input_type = if kind == "email" { "email" } else { "tel" };
    let autocomplete = if kind == "email" { "email" } else { "tel" };

    view! {
        <div class="destination">
            <dl class="details">
                <dt>{t.t(label)}</dt>
                <dd>{current}</dd>
            </dl>
            {move || match stage.get() {
                Stage::Shown => view! {
                    <button type="button" class="button" aria-label=format!("{} — {}", t.t(Msg::Change), t.t(label))
                        on:click=move |_| { errors.set(Vec::new()); failure.set(None); stage.set(Stage::Editing); }>
                        {t.t(Msg::Change)}
                    </button>
                }.into_any(),
                Stage::Reauth => view! { <Reauth prefix on_done=Callback::new(move |_| { send(); })/> }.into_any(),
                Stage::Editing => view! {
                    <ErrorSummary prefix errors failure label_of node_ref=summary/>
                    <form class="form" novalidate on:submit=on_value>
                        <Field prefix id=field label=field_label hint value initial=String::new()
                            problem=problem_of(errors, field) autocomplete input_type maxlength=Some(254)/>
                        <div class="button-row">
                            <button type="submit" class="button button-primary">{t.t(Msg::SendCode)}</button>
                            <button type="button" class="button" on:click=move |_| stage.set(Stage::Shown)>{t.t(Msg::Cancel)}</button>
                        </div>
                    </form>
                }.into_any(),
                Stage::Code => view! {
                    <p role="status">{sent_text}</p>
                    <ErrorSummary prefix errors failure label_of node_ref=summary/>
                    <form class="form" novalidate on:submit=on_code>
                        <Field prefix id="code" label=Msg::FieldCode hint=None value=code initial=String::new()
                            problem=problem_of(errors, "code") autocomplete="one-time-code" input_type="text"
                            maxlength=Some(7) inputmode="numeric"/>
                        <div class="button-row">
                            <button type="submit" class="button button-primary">{t.t(Msg::Confirm)}</button>
                            <button type="button" class="button" on:click=move |_| stage.set(Stage::Shown)>{t.t(Msg::Cancel)}</button>
                        </div>
                    </form>
                }.into_any(),
            }}
        </div>
    }
}

#[component]
fn PasswordChange() -> impl IntoView {
    let t = use_i18n();
    let current = RwSignal::new(String::new());
    let new_password = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<AppError>);
    let done = RwSignal::new(false);
    let summary = NodeRef::<leptos::html::Div>::new();
    let action = ServerAction::<ChangePassword>::new();
    let label_of: fn(&str) -> Msg = |f| if f == "current" { Msg::FieldCurrentPassword } else { Msg::FieldNewPassword };
    Effect::new(move |_| match action.value().get() {
        Some(Ok(())) => {
            errors.set(Vec::new());
            failure.set(None);
            current.set(String::new());
            new_password.set(String::new());
            done.set(true);
        }
        Some(Err(e)) => {
            done.set(false);
            show_error(e, errors, failure);
            focus_later(summary);
        }
        None => {}
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        done.set(false);
        action
            .dispatch(ChangePassword { current: current.get_untracked(), new_password: new_password.get_untracked() });
    };
    view! {
        {move || done.get().then(|| view! { <p class="notice notice-success" role="status">{t.t(Msg::PasswordChanged)}</p> })}
        <ErrorSummary prefix="password" errors failure label_of node_ref=summary/>
        <form class="form" novalidate on:submit=on_submit>
            <Field prefix="password" id="current" label=Msg::FieldCurrentPassword hint=None value=current
                initial=String::new() problem=problem_of(errors, "current") autocomplete="current-password"
                input_type="password" maxlength=None/>
            <Field prefix="password" id="new_password" label=Msg::FieldNewPassword hint=Some(Msg::FieldNewPasswordHint)
                value=new_password initial=String::new() problem=problem_of(errors, "new_password")
                autocomplete="new-password" input_type="password" maxlength=None/>
            <button type="submit" class="button button-primary" disabled=move || action.pending().get()>
                {t.t(Msg::ChangePassword)}
            </button>
        </form>
    }
}

/// Whether to send the read receipts correspondents ask for: always, ask each time (the
/// default), never. Saved as soon as chosen.
#[component]
fn ReadReceipts() -> impl IntoView {
    let t = use_i18n();
    let current = Resource::new(|| (), |_| mail_receipt_setting());
    let save = ServerAction::<MailSetReceiptSetting>::new();
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let value = current.await.unwrap_or_else(|_| "ask".into());
                let chosen = RwSignal::new(value);
                let option = move |v: &'static str, label: Msg| {
                    let id = format!("pref-receipts-{v}");
                    view! {
                        <div class="check">
                            <input type="radio" id=id.clone() name="read_receipts" value=v
                                prop:checked=move || chosen.get() == v
                                on:change=move |_| {
                                    chosen.set(v.to_string());
                                    save.dispatch(MailSetReceiptSetting { value: v.into() });
                                }/>
                            <label for=id>{t.t(label)}</label>
                        </div>
                    }
                };
                view! {
                    <fieldset class="form read-receipts">
                        <legend>{t.t(Msg::SettingReadReceipts)}</legend>
                        {option("always", Msg::SettingReceiptsAlways)}
                        {option("ask", Msg::SettingReceiptsAsk)}
                        {option("never", Msg::SettingReceiptsNever)}
                        {move || match save.value().get() {
                            Some(Ok(())) => Some(view! { <p class="notice notice-success" role="status">{t.t(Msg::Saved)}</p> }.into_any()),
                            Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
                            None => None,
                        }}
                    </fieldset>
                }
            })}
        </Suspense>
    }
}

/// The undo delay: how long a message sent waits before leaving (0 to 30 s).
#[component]
fn UndoDelay() -> impl IntoView {
    let t = use_i18n();
    let current = Resource::new(|| (), |_| mail_undo_delay());
    let action = ServerAction::<MailSetUndoDelay>::new();
    let chosen = RwSignal::new(None::<i64>);
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let secs = current.await.unwrap_or(10);
                let value = move || chosen.get().unwrap_or(secs);
                view! {
                    <form class="form" on:submit=move |ev: SubmitEvent| {
                        ev.prevent_default();
                        action.dispatch(MailSetUndoDelay { secs: chosen.get_untracked().unwrap_or(secs) });
                    }>
                        <label for="undo-delay">{t.t(Msg::UndoDelayLabel)}</label>
                        <p id="undo-delay-hint" class="hint">{t.t(Msg::UndoDelayHint)}</p>
                        <select id="undo-delay" aria-describedby="undo-delay-hint"
                            on:change=move |ev| chosen.set(event_target_value(&ev).parse().ok())>
                            {[0_i64, 5, 10, 15, 20, 30].into_iter().map(|n| {
                                let label = if n == 0 {
                                    t.t(Msg::UndoDelayNone).to_string()
                                } else {
                                    t.fmt(Msg::UndoDelaySecs, &[("secs", &n.to_string())])
                                };
                                view! { <option value=n.to_string() selected=move || value() == n>{label}</option> }
                            }).collect_view()}
                        </select>
                        {move || match action.value().get() {
                            Some(Ok(())) => Some(view! { <p class="notice notice-success" role="status">{t.t(Msg::Saved)}</p> }.into_any()),
                            Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
                            None => None,
                        }}
                        <button type="submit" class="button button-primary">{t.t(Msg::UndoDelaySave)}</button>
                    </form>
                }
            })}
        </Suspense>
    }
}

#[component]
fn Preferences(prefs: PreferencesView) -> impl IntoView {
    let t = use_i18n();
    let notify = RwSignal::new(prefs.notify_new_mail);
    let liste_rouge = RwSignal::new(prefs.liste_rouge);
    let publish_phone = RwSignal::new(prefs.publish_phone);
    let no_paper = RwSignal::new(prefs.no_paper);
    let action = ServerAction::<SavePreferences>::new();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        action.dispatch(SavePreferences {
            prefs: PreferencesView {
                notify_new_mail: notify.get_untracked(),
                liste_rouge: liste_rouge.get_untracked(),
                publish_phone: publish_phone.get_untracked(),
                no_paper: no_paper.get_untracked(),
            },
        });
    };
    let check = move |id: &'static str, label: Msg, value: RwSignal<bool>| {
        view! {
            <div class="check">
                <input type="checkbox" id=id prop:checked=move || value.get()
                    on:change=move |ev| value.set(event_target_checked(&ev))/>
                <label for=id>{t.t(label)}</label>
            </div>
        }
    };
    view! {
        <form class="form" on:submit=on_submit>
            {check("pref-notify", Msg::PrefNotify, notify)}
            {check("pref-liste-rouge", Msg::PrefListeRouge, liste_rouge)}
            {check("pref-publish-phone", Msg::PrefPublishPhone, publish_phone)}
            {check("pref-no-paper", Msg::PrefNoPaper, no_paper)}
            {move || match action.value().get() {
                Some(Ok(())) => Some(view! { <p class="notice notice-success" role="status">{t.t(Msg::Saved)}</p> }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
                None => None,
            }}
            <button type="submit" class="button button-primary">{t.t(Msg::Save)}</button>
        </form>
    }
}

#[component]
fn Sessions() -> impl IntoView {
    let t = use_i18n();
    let end = ServerAction::<EndSessions>::new();
    let sessions = Resource::new(move || end.version().get(), |_| my_sessions());
    let ended = move || {
        match end.value().get() {
        Some(Ok(n)) => Some(view! {
            <p class="notice notice-success" role="status">{t.fmt(Msg::SessionsEnded, &[("count", &n.to_string())])}</p>
        }.into_any()),
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
        None => None,
    }
    };
    view! {
        {ended}
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match sessions.await {
                    Ok(list) => {
                        let others = list.iter().filter(|s| !s.current).count();
                        view! {
                            <div class="table-wrap">
                                <table class="sessions">
                                    <thead><tr>
                                        <th scope="col">{t.t(Msg::SessionDevice)}</th>
                                        <th scope="col">{t.t(Msg::SessionIp)}</th>
                                        <th scope="col">{t.t(Msg::SessionFactor)}</th>
                                        <th scope="col">{t.t(Msg::SessionLevel)}</th>
                                        <th scope="col">{t.t(Msg::SessionStarted)}</th>
                                        <th scope="col">{t.t(Msg::SessionLastSeen)}</th>
                                        <th scope="col">{t.t(Msg::SessionActions)}</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|s| {
                                            let started = t.locale.date_time(&s.started);
                                            let label = t.fmt(Msg::SessionEndLabel, &[("device", &s.device), ("started", &started)]);
                                            let id = s.id;
                                            view! {
                                                <tr class:current=s.current>
                                                    <td>{s.device.clone()}</td>
                                                    <td>{s.ip.clone()}</td>
                                                    <td>{match s.factor.as_str() {
                                                        "passkey" => t.t(Msg::FactorPasskey),
                                                        "phone" => t.t(Msg::FactorPhone),
                                                        "totp" => t.t(Msg::FactorTotp),
                                                        "recovery" => t.t(Msg::FactorRecovery),
                                                        "sms" => t.t(Msg::FactorSms),
                                                        "email" => t.t(Msg::FactorEmail),
                                                        _ => "—",
                                                    }}</td>
                                                    <td>{match s.factor.as_str() {
                                                        "passkey" | "phone" => t.t(Msg::LevelHardware),
                                                        "password" => t.t(Msg::LevelPasswordOnly),
                                                        // Before terminals, every sign-in had a code.
                                                        _ => t.t(Msg::LevelTwoFactors),
                                                    }}</td>
                                                    <td>{started.clone()}</td>
                                                    <td>{t.locale.date_time(&s.last_seen)}</td>
                                                    <td>{if s.current {
                                                        view! { <strong>{t.t(Msg::SessionThis)}</strong> }.into_any()
                                                    } else {
                                                        view! {
                                                            <button type="button" class="button" aria-label=label
                                                                on:click=move |_| { end.dispatch(EndSessions { id }); }>
                                                                {t.t(Msg::SessionEnd)}
                                                            </button>
                                                        }.into_any()
                                                    }}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            {(others > 0).then(|| view! {
                                <button type="button" class="button" on:click=move |_| { end.dispatch(EndSessions { id: 0 }); }>
                                    {t.t(Msg::SessionEndOthers)}
                                </button>
                            })}
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
