//! A real synchronising client from Debian: isync's `mbsync`, authenticating with SASL XOAUTH2
//! (Cyrus SASL's `libsasl2-modules-kdexoauth2` plugin, the access token from `PassCmd`) over
//! implicit TLS, trusting the server's certificate file. It pulls the mailbox into a Maildir,
//! pushes a flag change, a deletion, new messages, a move between folders and a new folder back,
//! and brings the webmail's changes down on the next run: both sides see the same mailbox, and
//! every change is recorded as the webmail records it. Debian's mbsync (1.4) names folders in
//! raw UTF-8 where IMAP4rev1 wants modified UTF-7: an accented folder made in the client is
//! refused at once; one made in the webmail shows under its UTF-7 name.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::common::browser::*;
use crate::common::{on_each_engine, Engine, TestServer};
use crate::imap::device_tokens;
use app::api::{FolderView, MailAct, MailFolderCreate, MailFolders, MailList, MessageLine, MessagePage};
use hygie_core::audit::Actor;
use hygie_core::auth::oauth;
use hygie_core::mail::{import_batch, Imported};

on_each_engine!(mbsync_pulls_the_mailbox_and_pushes_flags_deletions_and_new_messages);

fn raw(id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Labo Durand <resultats@labo.mssante.fr>\r\nTo: alice.roy@hygie.localhost\r\nSubject: {subject}\r\n\
         Message-ID: <{id}>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn imported(raw: &[u8]) -> Imported {
    Imported { raw: raw.to_vec(), date_ms: None, unread: true }
}

/// A Maildir message as mbsync keeps it: its path and its flags (`FS` for flagged and seen).
#[derive(Debug)]
struct Local {
    path: PathBuf,
    flags: String,
    bytes: Vec<u8>,
}

impl Local {
    fn subject(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        text.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or_default().to_string()
    }
}

/// The messages of Maildir folder `folder` (`new` and `cur`), by subject.
fn local(maildir: &Path, folder: &str) -> Vec<Local> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(folder).join(sub)) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let flags = name.rsplit_once(":2,").map(|(_, f)| f.to_string()).unwrap_or_default();
            out.push(Local { bytes: std::fs::read(e.path()).unwrap(), path: e.path(), flags });
        }
    }
    out.sort_by_key(Local::subject);
    out
}

fn subjects(l: &[Local]) -> Vec<String> {
    l.iter().map(Local::subject).collect()
}

/// Runs `mbsync -a` once (not blocking: the server runs on this test's thread); panics with
/// its output if it fails. Returns its standard error (warnings).
async fn mbsync(rc: &Path) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        Command::new("mbsync").arg("-c").arg(rc).arg("-a").kill_on_drop(true).output(),
    )
    .await
    .expect("mbsync finishes within 2 minutes")
    .expect("mbsync runs (apt-get install isync libsasl2-modules-kdexoauth2)");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "mbsync failed: {}\n{err}", out.status);
    err
}

async fn list(b: &Browser, folder: &str) -> Vec<MessageLine> {
    b.run(MailList { folder: folder.into(), page: 0 }).await.ok::<MessagePage>().items
}

fn line<'l>(lines: &'l [MessageLine], subject: &str) -> &'l MessageLine {
    lines.iter().find(|l| l.subject == subject).unwrap_or_else(|| panic!("{subject} not in the webmail's list"))
}

/// The message as mbsync writes it into a Maildir: LF line ends.
fn lf(crlf: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(crlf).replace("\r\n", "\n").into_bytes()
}

impl Local {
    /// The message without the `X-TUID` header mbsync adds to the copies it writes (its way of
    /// finding a message again in a store without UIDs).
    fn message(&self) -> Vec<u8> {
        let text = String::from_utf8_lossy(&self.bytes);
        let kept: Vec<&str> = text.split_inclusive('\n').filter(|l| !l.starts_with("X-TUID: ")).collect();
        kept.concat().into_bytes()
    }
}

async fn mbsync_pulls_the_mailbox_and_pushes_flags_deletions_and_new_messages(engine: Engine) {
    let started = Instant::now();
    let s = TestServer::start(engine).await;
    let (alice_id, alice) = account(&s, "alice.roy", Some(MOBILE)).await;
    let bilan = raw("s1@labo", "Bilan sanguin", "Potassium 4,1 mmol/L. Créatinine normale.");
    let compte_rendu = raw("s2@labo", "Compte rendu", "Rien à signaler.");
    let irm = raw("s3@labo", "IRM du genou", "Pas de lésion méniscale.");
    let ancien = raw("s4@labo", "Ancien résultat", "Archivé.");
    import_batch(s.db(), &s.clock, alice_id, "inbox", &[imported(&bilan), imported(&compte_rendu), imported(&irm)])
        .await
        .unwrap();
    import_batch(s.db(), &s.clock, alice_id, "archive", &[imported(&ancien)]).await.unwrap();
    let c = oauth::register_public_client(s.db(), &s.clock, "mbsync", Actor::Operator("root".into())).await.unwrap();
    let b = Browser::new(&s);
    sign_in(&s, &b, &alice, 1).await;
    let labo: i64 = b.run(MailFolderCreate { name: "Laboratoire".into(), parent: 0 }).await.ok();
    let inbox = list(&b, "inbox").await;
    let irm_id = line(&inbox, "IRM du genou").id;
    assert_eq!(b.run(MailAct { action: format!("move:d{labo}"), ids: vec![irm_id] }).await.ok::<u64>(), 1);
    let (access, _) = device_tokens(&s, &c.client_id, &b).await;

    // The client's configuration: the token read by PassCmd from a file only the user reads,
    // the server's certificate trusted by file (verification stays on).
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    std::fs::create_dir_all(&maildir).unwrap();
    let token = dir.path().join("token");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&token).unwrap();
        f.write_all(access.as_bytes()).unwrap();
    }
    let port = s.running.as_ref().unwrap().imap_addr.unwrap().port();
    let cert = s.config.data_dir.join("tls/dev-cert.pem");
    let rc = dir.path().join("mbsyncrc");
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount hygie\nHost 127.0.0.1\nPort {port}\nUser {alice}\nPassCmd \"cat {token}\"\n\
             AuthMechs XOAUTH2\nSSLType IMAPS\nCertificateFile {cert}\n\n\
             IMAPStore remote\nAccount hygie\n\n\
             MaildirStore local\nPath {maildir}/\nInbox {maildir}/INBOX\nSubFolders Verbatim\n\n\
             Channel hygie\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nSync All\nExpunge Both\n\
             SyncState *\n",
            token = token.display(),
            cert = cert.display(),
            maildir = maildir.display(),
        ),
    )
    .unwrap();

    // 1. Pull: every folder, every message, as stored (mbsync keeps LF line ends), all unread.
    let t = Instant::now();
    mbsync(&rc).await;
    let first_sync = t.elapsed();
    let mut folders: Vec<String> =
        std::fs::read_dir(&maildir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect();
    folders.sort();
    assert_eq!(folders, ["Archive", "Drafts", "INBOX", "Laboratoire", "Sent", "Trash"]);
    let in_inbox = local(&maildir, "INBOX");
    assert_eq!(subjects(&in_inbox), ["Bilan sanguin", "Compte rendu"]);
    assert_eq!(in_inbox[0].message(), lf(&bilan), "the message byte for byte");
    assert_eq!(in_inbox[1].message(), lf(&compte_rendu));
    assert!(in_inbox.iter().all(|m| !m.flags.contains('S')), "unread stays unread: {in_inbox:?}");
    let in_labo = local(&maildir, "Laboratoire");
    assert_eq!(subjects(&in_labo), ["IRM du genou"]);
    assert_eq!(in_labo[0].message(), lf(&irm));
    assert_eq!(subjects(&local(&maildir, "Archive")), ["Ancien résultat"]);
    for empty in ["Sent", "Drafts", "Trash"] {
        assert!(local(&maildir, empty).is_empty(), "{empty}");
    }

    // 2. Push: read and flagged, deleted, a new message in the Inbox, a draft.
    let m = &in_inbox[0];
    let name = m.path.file_name().unwrap().to_string_lossy().to_string();
    let base = name.split(":2,").next().unwrap();
    std::fs::rename(&m.path, maildir.join("INBOX/cur").join(format!("{base}:2,FS"))).unwrap();
    let old = &local(&maildir, "Archive")[0];
    let name = old.path.file_name().unwrap().to_string_lossy().to_string();
    std::fs::rename(&old.path, maildir.join("Archive/cur").join(format!("{}:2,T", name.split(":2,").next().unwrap())))
        .unwrap();
    let written = "From: Alice Roy <alice.roy@hygie.localhost>\nTo: labo@labo.mssante.fr\nSubject: Note hors ligne\n\
                   Message-ID: <offline-1@alice>\nDate: Mon, 7 Dec 2026 12:00:00 +0100\n\nEcrite dans le client.\n";
    std::fs::write(maildir.join("INBOX/new/1796690300.1_1.poste"), written).unwrap();
    let draft = written.replace("Note hors ligne", "Brouillon hors ligne").replace("offline-1", "offline-2");
    std::fs::write(maildir.join("Drafts/cur/1796690300.2_1.poste:2,DS"), draft).unwrap();
    let warnings = mbsync(&rc).await;
    assert!(!warnings.contains("Warning"), "{warnings}");

    // The webmail sees it all.
    let inbox = list(&b, "inbox").await;
    let l = line(&inbox, "Bilan sanguin");
    assert!(!l.unread && l.flagged, "{l:?}");
    let l = line(&inbox, "Compte rendu");
    assert!(l.unread && !l.flagged, "{l:?}");
    let l = line(&inbox, "Note hors ligne");
    assert!(l.unread, "pushed without the Seen flag: {l:?}");
    assert_eq!(inbox.len(), 3);
    let drafts = list(&b, "drafts").await;
    assert_eq!(drafts.iter().map(|l| l.subject.as_str()).collect::<Vec<_>>(), ["Brouillon hors ligne"]);
    assert!(list(&b, "archive").await.is_empty());
    assert_eq!(list(&b, "trash").await.iter().map(|l| l.subject.as_str()).collect::<Vec<_>>(), ["Ancien résultat"]);
    let log = actions(&s).await;
    for expected in ["mail.read success", "mail.flag success", "mail.append success", "mail.trash success"] {
        assert!(log.iter().any(|a| a == expected), "{expected} missing from {log:?}");
    }

    // 3. The webmail's changes come down: a flag removed, a message archived.
    let bilan_id = line(&inbox, "Bilan sanguin").id;
    let cr_id = line(&inbox, "Compte rendu").id;
    assert_eq!(b.run(MailAct { action: "unflag".into(), ids: vec![bilan_id] }).await.ok::<u64>(), 1);
    assert_eq!(b.run(MailAct { action: "archive".into(), ids: vec![cr_id] }).await.ok::<u64>(), 1);
    let warnings = mbsync(&rc).await;
    assert!(!warnings.contains("Warning"), "{warnings}");
    let in_inbox = local(&maildir, "INBOX");
    assert_eq!(subjects(&in_inbox), ["Bilan sanguin", "Note hors ligne"]);
    assert_eq!(in_inbox[0].flags, "S", "unflagged in the webmail: {in_inbox:?}");
    let in_archive = local(&maildir, "Archive");
    assert_eq!(subjects(&in_archive), ["Compte rendu"]);
    assert_eq!(in_archive[0].message(), lf(&compte_rendu));
    assert_eq!(subjects(&local(&maildir, "Trash")), ["Ancien résultat"]);
    assert_eq!(subjects(&local(&maildir, "Drafts")), ["Brouillon hors ligne"]);

    // 4. Nothing changed: nothing moves, on either side.
    let before = actions(&s).await.len();
    mbsync(&rc).await;
    assert_eq!(subjects(&local(&maildir, "INBOX")), ["Bilan sanguin", "Note hors ligne"]);
    assert_eq!(list(&b, "inbox").await.len(), 2);
    let after = actions(&s).await;
    assert!(
        after[..after.len() - before].iter().all(|a| a.starts_with("mail.list") || a.starts_with("auth")),
        "an idle sync changes nothing: {:?}",
        &after[..after.len() - before]
    );
    // 5. A message moved in the client (a new file in the other folder, the old one gone, as
    // mbsync's manual says to move one) moves in the webmail: Hygie keeps one copy of each
    // message, so the APPEND of a message it holds is that message.
    let note = local(&maildir, "INBOX").into_iter().find(|m| m.subject() == "Note hors ligne").unwrap();
    let name = note.path.file_name().unwrap().to_string_lossy().to_string();
    let (unique, info) = name.split_once(":2,").unwrap_or((&name, ""));
    let unique = unique.split(",U=").next().unwrap();
    std::fs::rename(&note.path, maildir.join("Laboratoire/cur").join(format!("{unique}:2,{info}"))).unwrap();
    let warnings = mbsync(&rc).await;
    assert!(!warnings.contains("Warning"), "{warnings}");
    assert_eq!(subjects(&local(&maildir, "INBOX")), ["Bilan sanguin"]);
    assert_eq!(subjects(&local(&maildir, "Laboratoire")), ["IRM du genou", "Note hors ligne"]);
    assert_eq!(subjects(&local(&maildir, "Trash")), ["Ancien résultat"], "not deleted: moved");
    let in_labo = list(&b, &format!("d{labo}")).await;
    assert!(line(&in_labo, "Note hors ligne").unread);
    assert_eq!(list(&b, "inbox").await.len(), 1);
    assert_eq!(list(&b, "trash").await.len(), 1);
    assert!(actions(&s).await.iter().any(|a| *a == format!("mail.move:d{labo} success")));
    mbsync(&rc).await;
    assert_eq!(subjects(&local(&maildir, "Laboratoire")), ["IRM du genou", "Note hors ligne"]);
    assert_eq!(subjects(&local(&maildir, "Trash")), ["Ancien résultat"]);

    // 6. A folder made in the client, with a message: made in the webmail too.
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join("Cardiologie").join(sub)).unwrap();
    }
    let classed = written.replace("Note hors ligne", "ECG normal").replace("offline-1", "offline-3");
    std::fs::write(maildir.join("Cardiologie/cur/1796690300.3_1.poste:2,S"), classed).unwrap();
    let warnings = mbsync(&rc).await;
    assert!(!warnings.contains("Warning"), "{warnings}");
    let folders = b.run(MailFolders {}).await.ok::<Vec<FolderView>>();
    let cardio = folders.iter().find(|f| f.name == "Cardiologie").expect("the client's folder in the webmail");
    let in_cardio = list(&b, &cardio.key).await;
    assert!(!line(&in_cardio, "ECG normal").unread);
    assert!(actions(&s).await.iter().any(|a| a == "mail.folder_create success"));

    // 7. Debian's mbsync (1.4) sends a folder name with accents as raw UTF-8, which IMAP4rev1
    // does not allow (modified UTF-7): refused at once with a tagged BAD, not left to time out.
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join("Résultats").join(sub)).unwrap();
    }
    let t = Instant::now();
    let out = Command::new("mbsync").arg("-c").arg(&rc).arg("-a").kill_on_drop(true).output();
    let out = tokio::time::timeout(Duration::from_secs(120), out).await.unwrap().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("modified UTF-7"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10), "answered, not timed out: {:?}", t.elapsed());
    std::fs::remove_dir_all(maildir.join("Résultats")).unwrap();
    mbsync(&rc).await;

    // 8. A webmail folder with an accented name reaches mbsync 1.4 under its IMAP name, in
    // modified UTF-7 (mbsync 1.5 would decode it), and keeps syncing under it.
    let ete: i64 = b.run(MailFolderCreate { name: "Été".into(), parent: 0 }).await.ok();
    let ecg = line(&list(&b, &cardio.key).await, "ECG normal").id;
    assert_eq!(b.run(MailAct { action: format!("move:d{ete}"), ids: vec![ecg] }).await.ok::<u64>(), 1);
    mbsync(&rc).await;
    assert_eq!(subjects(&local(&maildir, "&AMk-t&AOk-")), ["ECG normal"]);
    assert!(local(&maildir, "Cardiologie").is_empty());

    eprintln!("mbsync: first sync {first_sync:?}, whole test {:?}", started.elapsed());
    s.stop().await;
}
