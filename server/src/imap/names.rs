//! Folder names as IMAP shows them: the standard folders by fixed English names with their
//! SPECIAL-USE attribute (RFC 6154), the holder's own by their path (`Parent/Child`), in
//! modified UTF-7 (RFC 3501 §5.1.3) since the names are French; and LIST's wildcards.

use hygie_core::mail::imap::ImapFolder;

pub const DELIMITER: char = '/';

/// The IMAP name and SPECIAL-USE attribute of a standard folder.
pub fn standard(role: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match role {
        "inbox" => ("INBOX", None),
        "sent" => ("Sent", Some("Sent")),
        "drafts" => ("Drafts", Some("Drafts")),
        "archive" => ("Archive", Some("Archive")),
        "trash" => ("Trash", Some("Trash")),
        _ => return None,
    })
}

/// Each folder's full IMAP name (decoded), beside it.
pub fn named(folders: &[ImapFolder]) -> Vec<(String, &ImapFolder)> {
    let path = |f: &ImapFolder| -> String {
        if let Some((name, _)) = standard(&f.role) {
            return name.to_string();
        }
        let mut parts = vec![f.name.replace(DELIMITER, " ")];
        let mut at = f.parent_id;
        let mut depth = 0;
        while let Some(p) = at {
            let Some(parent) = folders.iter().find(|x| x.id == p) else { break };
            parts.push(parent.name.replace(DELIMITER, " "));
            at = parent.parent_id;
            depth += 1;
            if depth > 10 {
                break;
            }
        }
        parts.reverse();
        parts.join("/")
    };
    folders.iter().map(|f| (path(f), f)).collect()
}

/// The folder a client names (decoded name; `INBOX` in any case).
pub fn find<'a>(folders: &'a [ImapFolder], name: &str) -> Option<&'a ImapFolder> {
    if name.eq_ignore_ascii_case("INBOX") {
        return folders.iter().find(|f| f.role == "inbox");
    }
    named(folders).into_iter().find(|(n, _)| n == name).map(|(_, f)| f)
}

/// Modified UTF-7 (RFC 3501 §5.1.3), as mailbox names travel.
pub fn encode(name: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&b64.encode(bytes).replace('/', ","));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

pub fn decode(name: &str) -> Option<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut out = String::new();
    let mut rest = name;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('-')?;
        if end == 0 {
            out.push('&');
        } else {
            let bytes = b64.decode(after[..end].replace(',', "/")).ok()?;
            let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            out.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Whether `name` matches LIST's `pattern` (`*`: anything; `%`: anything but the delimiter).
pub fn matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('%') => (0..=n.len()).take_while(|&i| i == 0 || n[i - 1] != DELIMITER).any(|i| go(&p[1..], &n[i..])),
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf7_round_trips_french_names() {
        assert_eq!(encode("Résultats & comptes rendus"), "R&AOk-sultats &- comptes rendus");
        assert_eq!(decode("R&AOk-sultats &- comptes rendus").unwrap(), "Résultats & comptes rendus");
        for n in ["Laboratoire", "Été/Œdème", "日本語"] {
            assert_eq!(decode(&encode(n)).unwrap(), n);
        }
    }

    #[test]
    fn list_wildcards() {
        assert!(matches("*", "A/B"));
        assert!(matches("%", "INBOX") && !matches("%", "A/B"));
        assert!(matches("A/%", "A/B") && !matches("A/%", "A/B/C"));
        assert!(matches("INBOX", "INBOX") && !matches("INBOX", "Sent"));
    }
}
