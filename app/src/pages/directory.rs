//! The directory of correspondents: `/annuaire` (search with filters, a plain GET form that
//! works before the WebAssembly loads) and `/annuaire/fiche/:key` (one entry, "write to").

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{directory_entry, directory_facets, directory_search, DirectoryEntry, DirectoryQuery};
use crate::components::feedback::{ErrorNotice, Loading};
use crate::error::AppError;
use crate::i18n::{I18n, Msg};
use crate::pages::mail::auth_redirect;
use crate::{encode_query_value, use_i18n};

/// Mailbox types, as the extract codes them.
const TYPES: &[(&str, Msg)] =
    &[("PER", Msg::DirTypePer), ("ORG", Msg::DirTypeOrg), ("CAB", Msg::DirTypeCab), ("APP", Msg::DirTypeApp)];

fn type_label(t: I18n, code: &str) -> String {
    TYPES.iter().find(|(c, _)| *c == code).map(|(_, m)| t.t(*m).to_string()).unwrap_or_else(|| code.to_string())
}

/// The URL of a page of results for `q`.
fn results_href(q: &DirectoryQuery, page: i64) -> String {
    let mut parts: Vec<String> = [
        ("q", &q.q),
        ("profession", &q.profession),
        ("specialite", &q.specialty),
        ("lieu", &q.place),
        ("identifiant", &q.identifier),
        ("type", &q.mailbox_type),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
    .collect();
    if page > 0 {
        parts.push(format!("page={}", page + 1));
    }
    format!("/annuaire?{}", parts.join("&"))
}

fn write_href(address: &str) -> String {
    format!("/messagerie/ecrire?a={}", encode_query_value(address))
}

/// `/annuaire`: the search form, then the results.
#[component]
pub fn DirectoryPage() -> impl IntoView {
    let t = use_i18n();
    let params = use_query_map();
    let query = Memo::new(move |_| {
        params.with(|p| DirectoryQuery {
            q: p.get("q").unwrap_or_default(),
            profession: p.get("profession").unwrap_or_default(),
            specialty: p.get("specialite").unwrap_or_default(),
            place: p.get("lieu").unwrap_or_default(),
            identifier: p.get("identifiant").unwrap_or_default(),
            mailbox_type: p.get("type").unwrap_or_default(),
        })
    });
    let page =
        Memo::new(move |_| params.with(|p| p.get("page").and_then(|v| v.parse::<i64>().ok()).unwrap_or(1).max(1) - 1));
    let results = Resource::new(
        move || (query.get(), page.get()),
        |(q, page)| async move {
            if q.is_blank() {
                Ok(None)
            } else {
                directory_search(q, page).await.map(Some)
            }
        },
    );
    let facets = Resource::new(|| (), |_| directory_facets());
    let initial = query.get_untracked();
    let for_facets = initial.clone();
    let (init_place, init_identifier, init_type) =
        (initial.place.clone(), initial.identifier.clone(), initial.mailbox_type.clone());
    view! {
        <Title text=t.t(Msg::DirectoryTitle)/>
        <div class="page-head">
            <h1>{t.t(Msg::DirectoryTitle)}</h1>
            <a class="button" href="/messagerie">{t.t(Msg::NavMail)}</a>
        </div>
        <p>{t.t(Msg::DirectoryIntro)}</p>
        <form class="form directory-search" role="search" method="get" action="/annuaire">
            <div class="field">
                <label for="dir-q">{t.t(Msg::DirName)}</label>
                <p class="hint" id="dir-q-hint">{t.t(Msg::DirNameHint)}</p>
                <input type="search" id="dir-q" name="q" value=initial.q.clone() aria-describedby="dir-q-hint"
                    autocomplete="off" maxlength="200"/>
            </div>
            <fieldset class="directory-filters">
                <legend>{t.t(Msg::DirFilters)}</legend>
                <Suspense fallback=Loading>
                    {
                        move || {
                            let initial = for_facets.clone();
                            Suspend::new(async move {
                                let f = facets.await.unwrap_or_default();
                                view! {
                                    <div class="field">
                                        <label for="dir-profession">{t.t(Msg::DirProfession)}</label>
                                        <select id="dir-profession" name="profession">
                                            <option value="">{t.t(Msg::DirAnyProfession)}</option>
                                            {f.professions.into_iter().map(|p| {
                                                let selected = p == initial.profession;
                                                view! { <option value=p.clone() selected=selected>{p.clone()}</option> }
                                            }).collect_view()}
                                        </select>
                                    </div>
                                    <div class="field">
                                        <label for="dir-specialty">{t.t(Msg::DirSpecialty)}</label>
                                        <input type="text" id="dir-specialty" name="specialite" list="dir-specialties"
                                            value=initial.specialty.clone() autocomplete="off" maxlength="200"/>
                                        <datalist id="dir-specialties">
                                            {f.specialties.into_iter().map(|s| view! { <option value=s/> }).collect_view()}
                                        </datalist>
                                    </div>
                                }
                            })
                        }
                    }
                </Suspense>
                <div class="field">
                    <label for="dir-place">{t.t(Msg::DirPlace)}</label>
                    <input type="text" id="dir-place" name="lieu" value=init_place autocomplete="off" maxlength="200"/>
                </div>
                <div class="field">
                    <label for="dir-identifier">{t.t(Msg::DirIdentifier)}</label>
                    <input type="text" id="dir-identifier" name="identifiant" value=init_identifier
                        inputmode="numeric" autocomplete="off" maxlength="20"/>
                </div>
                <div class="field">
                    <label for="dir-type">{t.t(Msg::DirMailboxType)}</label>
                    <select id="dir-type" name="type">
                        <option value="">{t.t(Msg::DirAnyType)}</option>
                        {TYPES.iter().map(|(code, label)| {
                            let selected = *code == init_type;
                            view! { <option value=*code selected=selected>{t.t(*label)}</option> }
                        }).collect_view()}
                    </select>
                </div>
            </fieldset>
            <button type="submit" class="button button-primary">{t.t(Msg::DirSearchButton)}</button>
        </form>
        <section class="directory-results" aria-labelledby="dir-results-title">
            <h2 id="dir-results-title">{t.t(Msg::DirResults)}</h2>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    let q = query.get_untracked();
                    match results.await {
                        Ok(None) => view! { <p role="status">{t.t(Msg::DirAskSomething)}</p> }.into_any(),
                        Ok(Some(p)) if p.entries.is_empty() && p.page == 0 => {
                            view! { <p role="status">{t.t(Msg::DirNothing)}</p> }.into_any()
                        }
                        Ok(Some(p)) => {
                            let from = p.page * 20 + 1;
                            let to = from + p.entries.len() as i64 - 1;
                            let prev = (p.page > 0).then(|| results_href(&q, p.page - 1));
                            let next = p.has_more.then(|| results_href(&q, p.page + 1));
                            view! {
                                <p role="status">{t.fmt(Msg::DirShowing, &[("from", &from.to_string()), ("to", &to.to_string())])}</p>
                                <ul class="directory-list">
                                    {p.entries.into_iter().map(|e| entry_row(t, e)).collect_view()}
                                </ul>
                                <nav class="pager" aria-label=t.t(Msg::DirPages)>
                                    {prev.map(|h| view! { <a class="button" href=h>{t.t(Msg::DirPrevPage)}</a> })}
                                    {next.map(|h| view! { <a class="button" href=h>{t.t(Msg::DirNextPage)}</a> })}
                                </nav>
                            }.into_any()
                        }
                        Err(error) => failure(error),
                    }
                })}
            </Suspense>
        </section>
    }
}

fn failure(error: AppError) -> AnyView {
    auth_redirect(&error).unwrap_or_else(|| view! { <ErrorNotice error/> }.into_any())
}

fn entry_row(t: I18n, e: DirectoryEntry) -> impl IntoView {
    let name = e.display_name();
    let href = format!("/annuaire/fiche/{}", e.key);
    let write_label = t.fmt(Msg::DirWriteTo, &[("name", &name)]);
    view! {
        <li>
            <div class="who">
                <a href=href>{name.clone()}</a>
                {e.no_paper.then(|| view! { <span class="tag">{t.t(Msg::DirNoPaperShort)}</span> })}
            </div>
            <div class="what">{e.occupation()}</div>
            <div class="where">{e.place()}</div>
            <div class="address">{e.address.clone()}</div>
            <a class="button write" href=write_href(&e.address) aria-label=write_label>{t.t(Msg::Write)}</a>
        </li>
    }
}

/// `/annuaire/fiche/:key`: what the directory publishes about one correspondent.
#[component]
pub fn DirectoryEntryPage() -> impl IntoView {
    let t = use_i18n();
    let params = use_params_map();
    let key = Memo::new(move |_| params.read().get("key").unwrap_or_default());
    let entry = Resource::new(move || key.get(), directory_entry);
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match entry.await {
                    Ok(e) => entry_details(t, e).into_any(),
                    Err(AppError::NotFound) => view! {
                        <Title text=t.t(Msg::DirectoryTitle)/>
                        <h1>{t.t(Msg::DirectoryTitle)}</h1>
                        <p role="status">{t.t(Msg::DirEntryGone)}</p>
                        <p><a href="/annuaire">{t.t(Msg::DirBack)}</a></p>
                    }.into_any(),
                    Err(error) => failure(error),
                }
            })}
        </Suspense>
    }
}

fn entry_details(t: I18n, e: DirectoryEntry) -> impl IntoView {
    let name = e.display_name();
    let row = |label: Msg, value: Option<String>| {
        value.filter(|v| !v.trim().is_empty()).map(|v| view! { <dt>{t.t(label)}</dt><dd>{v}</dd> })
    };
    let identifier = e.id_value.clone().map(|v| match e.id_kind.as_deref() {
        Some("rpps") => format!("RPPS {v}"),
        Some("adeli") => format!("ADELI {v}"),
        _ => v,
    });
    let postal = [e.street.clone(), (!e.place().is_empty() && e.postcode.is_some()).then(|| e.place())]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let source = if e.hygie { Msg::DirSourceHygie } else { Msg::DirSourceNational };
    view! {
        <Title text=name.clone()/>
        <p><a href="/annuaire">{t.t(Msg::DirBack)}</a></p>
        <h1>{name.clone()}</h1>
        <dl class="details">
            <dt>{t.t(Msg::DirAddress)}</dt><dd class="address">{e.address.clone()}</dd>
            <dt>{t.t(Msg::DirMailboxType)}</dt><dd>{type_label(t, &e.mailbox_type)}</dd>
            {row(Msg::DirProfession, e.profession.clone())}
            {row(Msg::DirSpecialty, e.specialty.clone())}
            {row(Msg::DirIdentifierShown, identifier)}
            {row(Msg::DirOrganisation, e.organisation.clone())}
            {row(Msg::DirService, e.service.clone())}
            {row(Msg::DirPostal, Some(postal))}
            {row(Msg::DirPhone, e.phone.clone())}
            {e.no_paper.then(|| view! { <dt>{t.t(Msg::DirPaper)}</dt><dd>{t.t(Msg::DirNoPaper)}</dd> })}
            <dt>{t.t(Msg::DirSource)}</dt><dd>{t.t(source)}</dd>
        </dl>
        <a class="button button-primary" href=write_href(&e.address)>{t.fmt(Msg::DirWriteTo, &[("name", &name)])}</a>
    }
}
