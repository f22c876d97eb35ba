//! What Hygie writes to people outside their mailbox: security notices and codes, by email to
//! the notification address or by SMS. French first, English after, in one message: the
//! recipient may not have chosen a language yet, and a notice must be understood at once.
//!
//! A notice never carries message content, a subject, a sender or a patient's name; a code
//! never appears in a subject (subjects outlive bodies in the outbox table).

use crate::outbox::{Channel, Outgoing};

fn email(category: &str, to: &str, subject: &str, body: String) -> Outgoing {
    Outgoing {
        channel: Channel::Email,
        category: category.into(),
        recipient: to.into(),
        subject: Some(subject.into()),
        body,
        reply_to: None,
    }
}

/// To the notification address: the account's password was just changed.
pub fn password_changed(to: &str, address: &str) -> Outgoing {
    email(
        "password.changed",
        to,
        "Votre mot de passe Hygie a été modifié / Your Hygie password was changed",
        format!(
            "Bonjour,\n\nLe mot de passe du compte {address} vient d'être modifié.\n\
             Si ce n'était pas vous, utilisez « Mot de passe oublié » sur la page de connexion et contactez l'assistance.\n\n\
             ---\nThe password of {address} was just changed. If it was not you, reset it and contact support.\n"
        ),
    )
}

/// Which contact detail changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    NotificationEmail,
    Mobile,
}

/// To the previous notification address: a contact detail of the account was changed, in case
/// it was not the holder.
pub fn destination_changed(to: &str, address: &str, what: Destination) -> Outgoing {
    let (fr, en) = match what {
        Destination::NotificationEmail => ("L'adresse de notification", "notification address"),
        Destination::Mobile => ("Le numéro de mobile", "mobile number"),
    };
    email(
        "settings.changed",
        to,
        "Modification de votre compte Hygie / Your Hygie account was changed",
        format!(
            "Bonjour,\n\n{fr} du compte {address} vient d'être modifié.\nSi ce n'était pas vous, contactez l'assistance \
             sans attendre.\n\n---\nThe {en} of {address} was just changed. If it was not you, contact support at once.\n"
        ),
    )
}

/// To a new notification address or mobile: the code that proves it reaches the holder.
pub fn destination_code(what: Destination, to: &str, address: &str, code: &str) -> Outgoing {
    match what {
        Destination::NotificationEmail => email(
            "auth.code",
            to,
            "Votre code Hygie / Your Hygie code",
            format!(
                "Bonjour,\n\nPour faire de cette adresse l'adresse de notification du compte Hygie {address}, saisissez le \
                 code {code} (valable 10 minutes).\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n\
                 ---\nTo make this address the notification address of a Hygie account, enter the code {code} (valid 10 \
                 minutes).\n"
            ),
        ),
        Destination::Mobile => Outgoing {
            channel: Channel::Sms,
            category: "auth.code".into(),
            recipient: to.into(),
            subject: None,
            body: format!(
                "Hygie : votre code de confirmation de numéro est {code}. Valable 10 minutes. Ne le communiquez à personne."
            ),
            reply_to: None,
        },
    }
}

/// To the notification address: a secure message arrived (nothing of it is said).
pub fn new_mail(to: &str, public_url: &str) -> Outgoing {
    let link = format!("{}/messagerie", public_url.trim_end_matches('/'));
    email(
        "mail.notice",
        to,
        "Nouveau message sécurisé / New secure message",
        format!(
            "Bonjour,\n\nVous avez reçu un nouveau message dans votre messagerie sécurisée de santé Hygie.\n\
             Pour le lire, connectez-vous : {link}\n\n\
             Vous ne recevrez pas d'autre avis pendant 15 minutes. Vous pouvez désactiver ces avis dans « Mon compte ».\n\n\
             ---\nYou received a new message in your Hygie secure mailbox. Sign in to read it: {link}\n"
        ),
    )
}

/// To the notification address: a terminal (an authenticator app, a security key, a phone)
/// was added to the account and now proves its sign-ins.
pub fn terminal_added(to: &str, address: &str, name: &str) -> Outgoing {
    email(
        "terminal.added",
        to,
        "Un terminal a été ajouté à votre compte Hygie / A terminal was added to your Hygie account",
        format!(
            "Bonjour,\n\nLe terminal « {name} » vient d'être ajouté au compte {address} : il permet désormais de vous \
             connecter.\nSi ce n'était pas vous, contactez l'assistance sans attendre.\n\n---\nThe terminal \"{name}\" was \
             just added to {address} and can now prove your sign-ins. If it was not you, contact support at once.\n"
        ),
    )
}

/// To the notification address: a terminal was removed from the account.
pub fn terminal_removed(to: &str, address: &str, name: &str) -> Outgoing {
    email(
        "terminal.removed",
        to,
        "Un terminal a été retiré de votre compte Hygie / A terminal was removed from your Hygie account",
        format!(
            "Bonjour,\n\nLe terminal « {name} » vient d'être retiré du compte {address}.\nSi ce n'était pas vous, \
             contactez l'assistance sans attendre.\n\n---\nThe terminal \"{name}\" was just removed from {address}. If it \
             was not you, contact support at once.\n"
        ),
    )
}

/// To the notification address: a software or mail client was granted access to the mailbox.
pub fn client_granted(to: &str, address: &str, client: &str) -> Outgoing {
    email(
        "oauth.granted",
        to,
        "Un logiciel a accès à votre messagerie Hygie / A software has access to your Hygie mailbox",
        format!(
            "Bonjour,\n\nLe logiciel « {client} » vient de recevoir l'accès à la messagerie {address}. Vous pouvez le \
             retirer à tout moment dans « Mes terminaux », rubrique « Logiciels et clients connectés ».\nSi ce n'était pas \
             vous, retirez cet accès et contactez l'assistance sans attendre.\n\n---\nThe software \"{client}\" was just \
             granted access to {address}. You can withdraw it at any time in \"My terminals\", under \"Connected software \
             and clients\". If it was not you, withdraw it and contact support at once.\n"
        ),
    )
}

/// To the notification address: the operator removed every terminal of the account.
pub fn terminals_reset(to: &str, address: &str) -> Outgoing {
    email(
        "terminal.reset",
        to,
        "Les terminaux de votre compte Hygie ont été retirés / The terminals of your Hygie account were removed",
        format!(
            "Bonjour,\n\nÀ votre demande, l'assistance a retiré tous les terminaux (clés d'accès, applications \
             d'authentification) et les codes de secours du compte {address}, et fermé ses sessions. Vos codes de \
             connexion arrivent de nouveau par SMS ou par e-mail ; ajoutez un terminal dès votre prochaine connexion \
             dans « Mes terminaux ».\nSi vous n'avez rien demandé, contactez l'assistance sans attendre.\n\n---\nAt your \
             request, support removed every terminal and recovery code of {address} and ended its sessions. Sign-in \
             codes come by text message or email again; add a terminal at your next sign-in. If you asked for nothing, \
             contact support at once.\n"
        ),
    )
}

/// To the notification address: a passkey's signature counter went backwards, so the key may
/// have been copied; it no longer signs in.
pub fn passkey_flagged(to: &str, address: &str, name: &str) -> Outgoing {
    email(
        "terminal.flagged",
        to,
        "Une clé d'accès de votre compte Hygie est bloquée / A passkey of your Hygie account is blocked",
        format!(
            "Bonjour,\n\nLa clé d'accès « {name} » du compte {address} a présenté un compteur de signatures en arrière : \
             elle a peut-être été copiée. Elle ne permet plus de vous connecter.\nRetirez-la dans « Mes terminaux » puis \
             ajoutez-la de nouveau si elle est bien en votre possession, et prévenez l'assistance si vous ne l'avez pas \
             utilisée.\n\n---\nThe passkey \"{name}\" of {address} presented a signature counter that went backwards: it may \
             have been copied, and no longer signs in. Remove it in \"Mes terminaux\" and add it again if you still hold it.\n"
        ),
    )
}

/// To the notification address: a code of the authenticator app was typed a second time at
/// sign-in. Someone may have seen it over the holder's shoulder.
pub fn totp_replayed(to: &str, address: &str) -> Outgoing {
    email(
        "terminal.replayed",
        to,
        "Code de connexion réutilisé / A sign-in code was reused",
        format!(
            "Bonjour,\n\nUn code de votre application d'authentification déjà utilisé pour le compte {address} vient \
             d'être saisi à nouveau ; il a été refusé.\nSi ce n'était pas vous, changez votre mot de passe et contactez \
             l'assistance.\n\n---\nA code of your authenticator app that was already used for {address} was typed again \
             and refused. If it was not you, change your password and contact support.\n"
        ),
    )
}

/// To the notification address: a recovery code was used (to sign in or to reset the
/// password), and how many are left.
pub fn recovery_code_used(to: &str, address: &str, left: i64) -> Outgoing {
    email(
        "terminal.recovery_used",
        to,
        "Un code de secours a été utilisé / A recovery code was used",
        format!(
            "Bonjour,\n\nUn code de secours du compte {address} vient d'être utilisé. Il vous en reste {left}.\n\
             Si ce n'était pas vous, changez votre mot de passe et contactez l'assistance sans attendre. Si vous avez \
             perdu votre terminal, retirez-le dans « Mes terminaux » et ajoutez-en un nouveau.\n\n---\nA recovery code \
             of {address} was just used; {left} left. If it was not you, change your password and contact support.\n"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_bilingual_and_codes_stay_out_of_subjects() {
        let n = password_changed("a@exemple.fr", "jean@hygie.example");
        assert!(n.body.contains("vient d'être modifié") && n.body.contains("was just changed"));
        let c = destination_code(Destination::NotificationEmail, "b@exemple.fr", "jean@hygie.example", "123456");
        assert!(c.body.contains("123456"));
        assert!(!c.subject.unwrap_or_default().contains("123456"));
        let sms = destination_code(Destination::Mobile, "+33612345678", "jean@hygie.example", "654321");
        assert_eq!((sms.channel, sms.subject), (Channel::Sms, None));
        assert!(sms.body.chars().count() <= 160, "one SMS");
        let m = new_mail("a@exemple.fr", "https://h.example/");
        assert!(m.body.contains("https://h.example/messagerie"));
        let d = destination_changed("old@exemple.fr", "jean@hygie.example", Destination::Mobile);
        assert!(d.body.contains("numéro de mobile") && d.body.contains("mobile number"));
    }
}
