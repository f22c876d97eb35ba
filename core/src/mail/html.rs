//! HTML mail, made harmless: what survives is text formatting, tables, links and, when the
//! reader allows it, images. No script, style, SVG, MathML, form, frame, base or meta; no CSS at
//! all (so no url(), var(), expression(), @import); no javascript: or data: URLs; remote images
//! only on request. The result is shown in a sandboxed frame without scripts.

use std::collections::HashSet;

const TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
];

/// Cleans `html`. Remote images (`http:`/`https:`) are kept only with `remote_images`.
pub fn sanitise(html: &str, remote_images: bool) -> String {
    let tags: HashSet<&str> = TAGS.iter().copied().collect();
    let mut b = ammonia::Builder::empty();
    b.tags(tags)
        .clean_content_tags(["script", "style", "svg", "math", "noscript", "template", "iframe", "object"].into())
        .generic_attributes(["title", "lang", "dir", "align"].into())
        .tag_attributes(
            [
                ("a", ["href"].into()),
                ("img", ["src", "alt", "width", "height"].into()),
                ("td", ["colspan", "rowspan"].into()),
                ("th", ["colspan", "rowspan", "scope"].into()),
                ("ol", ["start"].into()),
            ]
            .into(),
        )
        .url_schemes(["http", "https", "mailto", "cid"].into())
        .link_rel(Some("noopener noreferrer nofollow"))
        .set_tag_attribute_value("a", "target", "_blank")
        .strip_comments(true)
        // "/\\evil" or "/&#9;/evil" would resolve to another host: only absolute URLs.
        .url_relative(ammonia::UrlRelative::Deny)
        .attribute_filter(move |element, attribute, value| {
            if element == "img" && attribute == "src" {
                let v = value.trim().to_ascii_lowercase();
                let remote = v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//");
                if remote && !remote_images {
                    return None;
                }
            }
            Some(value.into())
        });
    b.clean(html).to_string()
}

/// An image carried inside the message, named by its Content-ID.
pub struct Inline<'a> {
    pub content_id: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// Image types shown inline (never SVG, which can carry scripts and remote references).
const INLINE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Replaces `cid:` image references of sanitised `html` by the images the message carries, as
/// `data:` URLs (the page's policy allows them; nothing is fetched). At most 10 MB in all;
/// unknown references are dropped.
pub fn inline_cid_images(html: &str, parts: &[Inline<'_>]) -> String {
    use base64::Engine;
    let mut out = html.to_string();
    let mut budget: usize = 10 * 1024 * 1024;
    for p in parts {
        let ct = p.content_type.to_ascii_lowercase();
        if !INLINE_TYPES.contains(&ct.as_str()) || p.bytes.len() > budget {
            continue;
        }
        let id = p.content_id.trim().trim_start_matches('<').trim_end_matches('>');
        if id.is_empty() {
            continue;
        }
        // As ammonia writes the attribute: the value HTML-escaped, in double quotes.
        let escaped = id.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;");
        let needle = format!("src=\"cid:{escaped}\"");
        if out.contains(&needle) {
            budget -= p.bytes.len();
            let data = base64::engine::general_purpose::STANDARD.encode(p.bytes);
            out = out.replace(&needle, &format!("src=\"data:{ct};base64,{data}\""));
        }
    }
    // What is left pointed nowhere.
    let mut cleaned = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("src=\"cid:") {
        cleaned.push_str(&rest[..i]);
        let after = &rest[i + 9..];
        rest = after.find('"').map(|j| &after[j + 1..]).unwrap_or("");
    }
    cleaned.push_str(rest);
    cleaned
}

/// Whether `html` asks for remote images (to offer "show images from this sender").
pub fn has_remote_images(html: &str) -> bool {
    sanitise(html, true) != sanitise(html, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_images_come_from_the_message_and_nothing_else() {
        let html = sanitise(
            r#"<p>Logo</p><img src="cid:logo@labo" alt="logo"><img src="cid:absent"><img src="cid:dessin">"#,
            false,
        );
        let png = b"\x89PNG\r\n";
        let parts = [
            Inline { content_id: "<logo@labo>", content_type: "image/png", bytes: png },
            Inline { content_id: "dessin", content_type: "image/svg+xml", bytes: b"<svg onload=alert(1)/>" },
        ];
        let out = inline_cid_images(&html, &parts);
        assert!(out.contains(r#"src="data:image/png;base64,iVBORw0K""#), "{out}");
        assert!(!out.contains("cid:"), "unknown and SVG references are dropped: {out}");
        assert!(!out.contains("svg"));
        assert_eq!(out.matches("<img").count(), 3, "the images stay, without a source");
    }

    /// Hostile mails: nothing active or remote may survive.
    const CORPUS: &[&str] = &[
        r#"<script>alert(1)</script><p>texte</p>"#,
        r#"<img src=x onerror=alert(1)>"#,
        r#"<svg><animate attributeName="href" values="javascript:alert(1)"/><set attributeName="onload" to="alert(1)"/></svg>"#,
        r#"<math><mtext><a href="javascript:alert(1)">x</a></mtext></math>"#,
        r#"<p style="background:url(https://traceur.example/p.gif)">a</p>"#,
        r#"<p style="color:var(--x);width:expression(alert(1))">b</p>"#,
        r#"<div style="background-image:image-set('https://traceur.example/a.png' 1x)">c</div>"#,
        r#"<style>@import url(https://traceur.example/x.css); p{background:url(https://traceur.example/y)}</style>"#,
        r#"<table background="https://traceur.example/t.gif"><tr><td background="https://traceur.example/u.gif">d</td></tr></table>"#,
        r#"<body background="https://traceur.example/b.gif">e</body>"#,
        r#"<img srcset="https://traceur.example/s.png 2x" src="cid:logo">"#,
        r#"<a href="javascript:alert(1)">lien</a><a href="data:text/html,<script>alert(1)</script>">lien2</a>"#,
        r#"<a href="JaVaScRiPt:alert(1)">x</a><a href=" javascript:alert(1)">y</a>"#,
        r#"<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=https://evil.example">"#,
        r#"<form action="https://evil.example"><input name="mdp" type="password"><button>OK</button></form>"#,
        r#"<iframe src="https://evil.example"></iframe><object data="x.swf"></object><embed src="x">"#,
        r#"<link rel="stylesheet" href="https://traceur.example/s.css"><video poster="https://traceur.example/v.png"></video>"#,
        r#"<img src="https://traceur.example/pixel.gif" width="1" height="1">"#,
        r#"<a href="https://site.example" onclick="alert(1)" style="color:red">ok</a>"#,
        r#"<img src="/\evil.example/x.png"><img src="/&#9;/evil.example/y.png"><a href="//evil.example/z">z</a>"#,
    ];

    const FORBIDDEN: &[&str] = &[
        "<script",
        "onerror",
        "onload",
        "onclick",
        "javascript:",
        "data:",
        "<svg",
        "<math",
        "animate",
        "<set",
        "style",
        "url(",
        "var(",
        "expression(",
        "image-set",
        "@import",
        "background",
        "srcset",
        "<base",
        "<meta",
        "<form",
        "<input",
        "<button",
        "<iframe",
        "<object",
        "<embed",
        "<link",
        "<video",
        "poster",
        "traceur.example",
        "evil.example",
    ];

    #[test]
    fn nothing_active_or_remote_survives() {
        for html in CORPUS {
            let clean = sanitise(html, false).to_lowercase();
            for bad in FORBIDDEN {
                assert!(!clean.contains(bad), "{bad:?} survived in {clean:?} (from {html:?})");
            }
        }
    }

    #[test]
    fn ordinary_formatting_and_links_stay() {
        let clean = sanitise(
            r#"<h1>Compte-rendu</h1><p>Patient <b>stable</b>, voir <a href="https://hopital.example/cr">le dossier</a>.</p><table><tr><td colspan="2">é</td></tr></table><img src="cid:logo@x" alt="logo">"#,
            false,
        );
        assert!(clean.contains("<h1>Compte-rendu</h1>"));
        assert!(clean.contains("<b>stable</b>"));
        assert!(clean.contains(r#"href="https://hopital.example/cr""#));
        assert!(clean.contains(r#"rel="noopener noreferrer nofollow""#));
        assert!(clean.contains(r#"target="_blank""#));
        assert!(clean.contains(r#"<td colspan="2">é</td>"#));
        assert!(clean.contains(r#"src="cid:logo@x""#), "inline images are kept");
    }

    #[test]
    fn remote_images_only_on_request() {
        let html = r#"<p>Logo : <img src="https://clinique.example/logo.png" alt="logo"></p>"#;
        assert!(!sanitise(html, false).contains("clinique.example"));
        assert!(sanitise(html, true).contains(r#"src="https://clinique.example/logo.png""#));
        assert!(has_remote_images(html));
        assert!(!has_remote_images("<p>rien</p>"));
    }
}
