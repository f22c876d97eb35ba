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

/// Bytes of `data:` URLs one message body may get, counting every reference: an image
/// referenced a thousand times costs a thousand times its size, so a small message cannot
/// unfold into gigabytes.
pub const INLINE_BUDGET: usize = 10 * 1024 * 1024;

/// Replaces `cid:` image references of sanitised `html` by the images the message carries, as
/// `data:` URLs (the page's policy allows them; nothing is fetched). Each reference is charged
/// against [`INLINE_BUDGET`]; references past it, unknown ones and those to types not shown
/// inline lose their source. The result is at most `html.len() + INLINE_BUDGET` bytes.
pub fn inline_cid_images(html: &str, parts: &[Inline<'_>]) -> String {
    use base64::Engine;
    const REFERENCE: &str = "src=\"cid:";
    // The images that may be shown, by their reference as ammonia writes it (the id HTML-escaped,
    // in double quotes); each encoded once, when first used.
    let mut images: Vec<(String, String, &[u8], Option<String>)> = parts
        .iter()
        .filter_map(|p| {
            let ct = p.content_type.to_ascii_lowercase();
            let id = p.content_id.trim().trim_start_matches('<').trim_end_matches('>');
            if !INLINE_TYPES.contains(&ct.as_str()) || id.is_empty() {
                return None;
            }
            let escaped = id.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;");
            Some((escaped, ct, p.bytes, None))
        })
        .collect();
    let mut budget = INLINE_BUDGET;
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(REFERENCE) {
        out.push_str(&rest[..i]);
        let after = &rest[i + REFERENCE.len()..];
        let Some(end) = after.find('"') else {
            rest = "";
            break;
        };
        let id = &after[..end];
        rest = &after[end + 1..];
        let Some((_, ct, bytes, encoded)) = images.iter_mut().find(|(escaped, ..)| escaped == id) else {
            continue;
        };
        // The encoded size is known before encoding: a reference past the budget costs nothing.
        let url_len = "data:;base64,".len() + ct.len() + bytes.len().div_ceil(3) * 4;
        if url_len > budget {
            continue;
        }
        budget -= url_len;
        let data = encoded.get_or_insert_with(|| base64::engine::general_purpose::STANDARD.encode(bytes));
        out.push_str("src=\"data:");
        out.push_str(ct);
        out.push_str(";base64,");
        out.push_str(data);
        out.push('"');
    }
    out.push_str(rest);
    out
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

    #[test]
    fn an_image_referenced_a_thousand_times_stays_within_the_budget() {
        let html = sanitise(&r#"<p><img src="cid:big@labo" alt="x"></p>"#.repeat(1000), false);
        let big = vec![0x5au8; 1024 * 1024];
        let small = b"GIF89a";
        let parts = [
            Inline { content_id: "<big@labo>", content_type: "image/png", bytes: &big },
            Inline { content_id: "small", content_type: "image/gif", bytes: small },
        ];
        let out = inline_cid_images(&html, &parts);
        assert!(out.len() <= html.len() + INLINE_BUDGET, "{} bytes", out.len());
        // 1 MB is 1.33 MB as base64: seven references fit in 10 MB, the others lose their source.
        assert_eq!(out.matches("src=\"data:image/png;base64,").count(), 7);
        assert_eq!(out.matches("<img").count(), 1000, "the images stay, without a source");
        assert!(!out.contains("cid:"));
        // A small image still fits after them, wherever it is.
        let html = format!("{html}{}", sanitise(r#"<img src="cid:small">"#, false));
        let out = inline_cid_images(&html, &parts);
        assert!(out.contains(r#"src="data:image/gif;base64,R0lGODlh""#));
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
