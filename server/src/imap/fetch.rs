//! What FETCH returns from a message's whole text: ENVELOPE and BODYSTRUCTURE from
//! mail-parser's part tree, and `BODY[section]<partial>` cut from the raw bytes (RFC 9051
//! §6.4.5, §7.5.2).

use std::num::NonZeroU32;

use imap_codec::imap_types::body::{BasicFields, Body, BodyStructure, SpecificFields};
use imap_codec::imap_types::core::{IString, NString, Vec1};
use imap_codec::imap_types::envelope::{Address, Envelope};
use imap_codec::imap_types::fetch::{Part, Section};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

fn istring(s: impl Into<String>) -> IString<'static> {
    let s: String = s.into();
    match IString::try_from(s.clone()) {
        Ok(i) => i,
        // Not representable as a quoted string or a literal: never in practice (no NUL).
        Err(_) => IString::try_from(s.replace('\0', "")).unwrap_or_else(|_| IString::try_from("").expect("empty")),
    }
}

fn nstring(s: Option<&str>) -> NString<'static> {
    NString(s.map(|s| istring(s.trim())))
}

/// Message data: always a literal (it may hold 8-bit text and line breaks).
fn nbytes(b: &[u8]) -> NString<'static> {
    use imap_codec::imap_types::core::Literal;
    let lit = Literal::try_from(b.to_vec())
        .or_else(|_| Literal::try_from(b.iter().copied().filter(|&c| c != 0).collect::<Vec<u8>>()));
    NString(Some(lit.map(IString::from).unwrap_or_else(|_| istring(""))))
}

/// A display name as IMAP carries it: ASCII as is, other text as an RFC 2047 encoded word.
fn display_name(name: &str) -> String {
    if name.is_ascii() {
        return name.to_string();
    }
    use base64::Engine;
    format!("=?utf-8?b?{}?=", base64::engine::general_purpose::STANDARD.encode(name.as_bytes()))
}

fn addresses(a: Option<&mail_parser::Address>) -> Vec<Address<'static>> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .map(|x| {
            let addr = x.address().unwrap_or_default();
            let (mailbox, host) = addr.rsplit_once('@').unwrap_or((addr, ""));
            Address {
                name: NString(x.name().map(|n| istring(display_name(n)))),
                adl: NString::NIL,
                mailbox: nstring(Some(mailbox)),
                host: nstring(Some(host)),
            }
        })
        .collect()
}

pub fn envelope(m: &Message) -> Envelope<'static> {
    let raw = |h: &str| m.header_raw(h).map(|v| v.trim().to_string());
    let from = addresses(m.from());
    let or_from = |v: Vec<Address<'static>>| if v.is_empty() { from.clone() } else { v };
    Envelope {
        date: nstring(raw("Date").as_deref()),
        subject: NString(raw("Subject").map(|s| istring(s.replace(['\r', '\n'], "")))),
        sender: or_from(addresses(m.sender())),
        reply_to: or_from(addresses(m.reply_to())),
        from,
        to: addresses(m.to()),
        cc: addresses(m.cc()),
        bcc: addresses(m.bcc()),
        in_reply_to: nstring(raw("In-Reply-To").as_deref()),
        message_id: nstring(raw("Message-ID").as_deref()),
    }
}

fn lines(b: &[u8]) -> u32 {
    b.iter().filter(|&&c| c == b'\n').count() as u32
}

fn structure(m: &Message, id: usize) -> BodyStructure<'static> {
    let raw = m.raw_message();
    let Some(part) = m.parts.get(id) else { return empty_text() };
    let ct = part.content_type();
    let (ctype, subtype) = match ct {
        Some(c) => (c.ctype().to_ascii_lowercase(), c.subtype().unwrap_or("").to_ascii_lowercase()),
        None => ("text".into(), "plain".into()),
    };
    if let PartType::Multipart(children) = &part.body {
        let bodies: Vec<BodyStructure<'static>> = children.iter().map(|c| structure(m, *c as usize)).collect();
        if let Ok(bodies) = Vec1::try_from(bodies) {
            return BodyStructure::Multi { bodies, subtype: istring(subtype), extension_data: None };
        }
        return empty_text();
    }
    let start = (part.offset_body as usize).min(raw.len());
    let end = (part.offset_end as usize).clamp(start, raw.len());
    let body = &raw[start..end];
    let mut params: Vec<(IString<'static>, IString<'static>)> = ct
        .and_then(|c| c.attributes())
        .map(|a| a.iter().map(|x| (istring(x.name.to_ascii_lowercase()), istring(x.value.to_string()))).collect())
        .unwrap_or_default();
    if ctype == "text" && params.is_empty() {
        params.push((istring("charset"), istring("us-ascii")));
    }
    let basic = BasicFields {
        parameter_list: params,
        id: nstring(part.content_id().map(|c| format!("<{c}>")).as_deref()),
        description: nstring(part.content_description()),
        content_transfer_encoding: istring(part.content_transfer_encoding().unwrap_or("7bit").to_ascii_lowercase()),
        size: body.len() as u32,
    };
    let specific = match &part.body {
        PartType::Message(inner) => SpecificFields::Message {
            envelope: Box::new(envelope(inner)),
            body_structure: Box::new(structure(inner, 0)),
            number_of_lines: lines(body),
        },
        _ if ctype == "text" => SpecificFields::Text { subtype: istring(subtype), number_of_lines: lines(body) },
        _ => SpecificFields::Basic { r#type: istring(ctype), subtype: istring(subtype) },
    };
    BodyStructure::Single { body: Body { basic, specific }, extension_data: None }
}

fn empty_text() -> BodyStructure<'static> {
    BodyStructure::Single {
        body: Body {
            basic: BasicFields {
                parameter_list: vec![(istring("charset"), istring("us-ascii"))],
                id: NString::NIL,
                description: NString::NIL,
                content_transfer_encoding: istring("7bit"),
                size: 0,
            },
            specific: SpecificFields::Text { subtype: istring("plain"), number_of_lines: 0 },
        },
        extension_data: None,
    }
}

pub fn body_structure(m: &Message) -> BodyStructure<'static> {
    structure(m, 0)
}

/// The (sub-)message and part a section's part number names: `None` if there is no such part.
fn locate<'m, 'x>(mut m: &'m Message<'x>, path: &[NonZeroU32]) -> Option<(&'m Message<'x>, usize)> {
    let mut id = 0usize;
    for (i, n) in path.iter().enumerate() {
        let n = n.get() as usize;
        // Entering a message/rfc822 part: its own parts are numbered from its root.
        if i > 0 {
            if let PartType::Message(inner) = &m.parts.get(id)?.body {
                m = inner;
                id = 0;
            }
        }
        match &m.parts.get(id)?.body {
            PartType::Multipart(children) => id = *children.get(n - 1)? as usize,
            _ if n == 1 => {}
            _ => return None,
        }
    }
    Some((m, id))
}

fn header_block<'a>(m: &'a Message<'a>) -> &'a [u8] {
    let raw = m.raw_message();
    let root = m.root_part();
    &raw[(root.offset_header as usize).min(raw.len())..(root.offset_body as usize).min(raw.len())]
}

fn text_block<'a>(m: &'a Message) -> &'a [u8] {
    let raw = m.raw_message();
    &raw[(m.root_part().offset_body as usize).min(raw.len())..]
}

/// The header lines of `block` whose names are (or, with `not`, are not) among `names`.
fn header_fields(block: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in block.split_inclusive(|&c| c == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|&c| c == b':').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
            keep = names.contains(&name) != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The bytes a section names; `None` when the message has no such part.
pub fn section(raw: &[u8], section: Option<&Section>) -> Option<Vec<u8>> {
    let Some(section) = section else { return Some(raw.to_vec()) };
    let m = MessageParser::default().parse(raw)?;
    let sub = |part: &Option<Part>| -> Option<Message<'static>> {
        match part {
            None => Some(m.clone().into_owned()),
            Some(p) => match &m.parts.get(locate(&m, p.0.as_ref())?.1)?.body {
                PartType::Message(inner) => Some(inner.clone().into_owned()),
                _ => None,
            },
        }
    };
    let names = |list: &Vec1<imap_codec::imap_types::core::AString>| -> Vec<String> {
        list.as_ref().iter().map(|n| String::from_utf8_lossy(n.as_ref()).to_ascii_lowercase()).collect()
    };
    Some(match section {
        Section::Header(p) => header_block(&sub(p)?).to_vec(),
        Section::Text(p) => text_block(&sub(p)?).to_vec(),
        Section::HeaderFields(p, list) => header_fields(header_block(&sub(p)?), &names(list), false),
        Section::HeaderFieldsNot(p, list) => header_fields(header_block(&sub(p)?), &names(list), true),
        Section::Part(p) => {
            let (sm, id) = locate(&m, p.0.as_ref())?;
            let part = sm.parts.get(id)?;
            let raw = sm.raw_message();
            raw[(part.offset_body as usize).min(raw.len())..(part.offset_end as usize).min(raw.len())].to_vec()
        }
        Section::Mime(p) => {
            let (sm, id) = locate(&m, p.0.as_ref())?;
            let part = sm.parts.get(id)?;
            let raw = sm.raw_message();
            raw[(part.offset_header as usize).min(raw.len())..(part.offset_body as usize).min(raw.len())].to_vec()
        }
    })
}

/// `<start.length>` of the bytes, with the origin FETCH echoes.
pub fn partial(bytes: Vec<u8>, partial: Option<(u32, NonZeroU32)>) -> (NString<'static>, Option<u32>) {
    match partial {
        None => (nbytes(&bytes), None),
        Some((start, len)) => {
            let s = (start as usize).min(bytes.len());
            let e = s.saturating_add(len.get() as usize).min(bytes.len());
            (nbytes(&bytes[s..e]), Some(start))
        }
    }
}

pub fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}
