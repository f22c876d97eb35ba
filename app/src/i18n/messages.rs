//! The message catalogue. One line per message: key, French, English.

use super::Locale;

macro_rules! messages {
    ($($key:ident => $fr:expr, $en:expr;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Msg { $($key),* }

        impl Msg {
            pub const ALL: &'static [Msg] = &[$(Msg::$key),*];

            pub fn text(self, locale: Locale) -> &'static str {
                match (self, locale) {
                    $((Msg::$key, Locale::Fr) => $fr, (Msg::$key, Locale::En) => $en,)*
                }
            }
        }
    };
}

messages! {
    // Layout
    SkipToContent => "Aller au contenu", "Skip to content";
    SiteName => "Hygie", "Hygie";
    Tagline => "Messagerie sécurisée de santé", "Secure health messaging";
    NavLabel => "Navigation principale", "Main navigation";
    NavHome => "Accueil", "Home";
    NavFaq => "FAQ", "FAQ";
    NavConfigs => "Configurations supportées", "Supported configurations";
    NavTerms => "Conditions d'utilisation", "Terms of use";
    NavCookies => "Cookies", "Cookies";
    NavLegal => "Mentions légales", "Legal notice";
    NavAssistance => "Assistance", "Support";
    LangSwitchLabel => "Read this page in English", "Lire cette page en français";
    LangSwitchText => "English", "Français";
    FooterLabel => "Informations sur le service", "About the service";
    FooterText => "Hygie — messagerie sécurisée pour les professionnels de santé, du social et du médico-social.",
                  "Hygie — secure messaging for health, social and medico-social professionals.";
    NotFoundTitle => "Page introuvable", "Page not found";
    NotFoundText => "Cette adresse ne correspond à aucune page du portail.", "This address does not match any page of the portal.";
    NotFoundBack => "Revenir à l'accueil", "Back to the home page";
    Loading => "Chargement…", "Loading…";
    ErrorLoading => "Le contenu n'a pas pu être chargé. Réessayez dans un instant.", "The content could not be loaded. Please try again in a moment.";

    // Cookie banner
    BannerLabel => "Cookies de mesure d'audience", "Audience measurement cookies";
    BannerText => "Hygie dépose uniquement les cookies techniques nécessaires au service. Avec votre accord, un cookie de mesure d'audience nous aide à améliorer le portail ; il n'est partagé avec personne.",
                  "Hygie only sets the technical cookies the service needs. With your consent, an audience measurement cookie helps us improve the portal; it is shared with no one.";
    BannerAccept => "Accepter la mesure d'audience", "Accept audience measurement";
    BannerRefuse => "Refuser", "Refuse";
    BannerMore => "En savoir plus sur les cookies", "More about cookies";

    // Home
    HomeTitle => "Hygie, la messagerie sécurisée des professionnels de santé", "Hygie, secure messaging for health professionals";
    HomeIntro => "Hygie permet aux professionnels de santé, du social et du médico-social d'échanger entre eux, en toute confidentialité, des messages et des documents contenant des données de santé de leurs patients ou usagers.",
                 "Hygie lets health, social and medico-social professionals exchange messages and documents containing their patients' or clients' health data with each other, in full confidentiality.";
    HomeWhatTitle => "Qu'est-ce que Hygie ?", "What is Hygie?";
    HomeWhat1 => "Une messagerie électronique réservée aux professionnels, qui fait partie de l'espace de confiance de la messagerie sécurisée de santé : vous pouvez écrire à tout titulaire d'une boîte aux lettres de cet espace, quel que soit son opérateur.",
                 "An email service reserved for professionals, part of the secure health messaging trust space: you can write to any holder of a mailbox in that space, whoever their operator is.";
    HomeWhat2 => "Les messages sont hébergés chez un hébergeur certifié pour les données de santé, l'accès est protégé par une authentification forte et chaque action est tracée.",
                 "Messages are stored by a host certified for health data, access is protected by strong authentication and every action is traced.";
    HomeWhoTitle => "Qui peut l'utiliser ?", "Who may use it?";
    HomeWho1 => "Les professionnels de santé (médecins, infirmiers, pharmaciens, sages-femmes, kinésithérapeutes…) identifiés au RPPS ou à ADELI.",
                "Health professionals (doctors, nurses, pharmacists, midwives, physiotherapists…) registered with RPPS or ADELI.";
    HomeWho2 => "Les professionnels du social et du médico-social que la loi autorise à échanger des données de santé pour la prise en charge des personnes qu'ils accompagnent.",
                "Social and medico-social professionals whom the law authorises to exchange health data to care for the people they support.";
    HomeWho3 => "Les établissements et structures, par des boîtes organisationnelles ou applicatives (logiciels métier).",
                "Institutions and practices, through organisational or application mailboxes (business software).";
    HomeAccountTitle => "Comment obtenir un compte ?", "How do I get an account?";
    HomeAccount1 => "Votre compte est créé par l'opérateur du service, à partir de votre identification professionnelle ou du fichier de votre autorité d'enregistrement.",
                    "Your account is created by the service operator, from your professional identification or from your registration authority's file.";
    HomeAccount2 => "Vous recevez un lien d'activation à votre adresse de notification personnelle (hors messagerie sécurisée), valable 72 heures, pour choisir votre mot de passe.",
                    "You receive an activation link at your personal notification address (outside secure messaging), valid for 72 hours, to choose your password.";
    HomeAccount3 => "Pour toute demande, écrivez à l'assistance depuis la page Assistance.", "For any request, write to support from the Support page.";
    HomeSignInTitle => "Comment se connecter ?", "How do I sign in?";
    HomeSignIn1 => "Saisissez votre adresse de messagerie sécurisée et votre mot de passe.", "Enter your secure mailbox address and your password.";
    HomeSignIn2 => "Saisissez ensuite le code à usage unique reçu par SMS (ou, à défaut, par courriel à votre adresse de notification).",
                   "Then enter the one-time code received by text message (or, failing that, by email at your notification address).";
    HomeSignIn3 => "Le code est valable 10 minutes et ne sert qu'une fois. Personne ne vous le demandera jamais, pas même l'assistance.",
                   "The code is valid for 10 minutes and works only once. No one will ever ask you for it, not even support.";
    HomeSecrecy => "Les données de santé échangées sont couvertes par le secret professionnel (article L. 1110-4 du code de la santé publique).",
                   "Health data exchanged is covered by professional secrecy (article L. 1110-4 of the French public health code).";

    // FAQ
    FaqTitle => "Questions fréquentes", "Frequently asked questions";
    FaqQ1 => "Hygie est-il payant ?", "Is Hygie free of charge?";
    FaqA1 => "Les conditions tarifaires dépendent de l'opérateur qui vous fournit le service ; elles vous sont communiquées à la création du compte.",
             "Pricing depends on the operator providing the service to you; it is given to you when your account is created.";
    FaqQ2 => "À qui puis-je écrire ?", "Whom can I write to?";
    FaqA2 => "À tout titulaire d'une boîte aux lettres de l'espace de confiance de la messagerie sécurisée de santé. Un envoi vers une adresse extérieure à cet espace (messagerie personnelle, par exemple) est refusé avant tout envoi.",
             "To any holder of a mailbox in the secure health messaging trust space. Sending to an address outside that space (a personal mailbox, for instance) is refused before anything is sent.";
    FaqQ3 => "Je n'ai pas reçu mon code de connexion.", "I did not receive my sign-in code.";
    FaqA3 => "Vérifiez le numéro de mobile ou l'adresse de notification enregistrés dans votre compte, patientez une minute puis demandez un nouveau code. Si le problème persiste, contactez l'assistance.",
             "Check the mobile number or notification address recorded in your account, wait a minute, then ask for a new code. If the problem persists, contact support.";
    FaqQ4 => "J'ai oublié mon mot de passe.", "I forgot my password.";
    FaqA4 => "Utilisez « Mot de passe oublié » sur la page de connexion : un lien vous est envoyé à votre adresse de notification, accompagné d'un code par SMS si vous avez enregistré un mobile.",
             "Use “Forgot password” on the sign-in page: a link is sent to your notification address, with a text-message code if you recorded a mobile number.";
    FaqQ5 => "Puis-je consulter ma messagerie sur mon téléphone ?", "Can I read my mail on my phone?";
    FaqA5 => "Oui : le webmail s'adapte aux écrans de téléphone. Voir la page Configurations supportées.",
             "Yes: the webmail adapts to phone screens. See the Supported configurations page.";
    FaqQ6 => "Mon adresse apparaît-elle dans l'annuaire ?", "Does my address appear in the directory?";
    FaqA6 => "Oui, sauf si vous choisissez la liste rouge dans les paramètres de votre compte. Votre numéro de téléphone n'est publié que si vous l'avez choisi.",
             "Yes, unless you choose to be unlisted in your account settings. Your phone number is only published if you chose so.";
    FaqQ7 => "Qui peut lire mes messages ?", "Who can read my messages?";
    FaqA7 => "Vous et vos destinataires. Les accès sont tracés dans un journal infalsifiable ; l'opérateur et l'hébergeur ne consultent pas le contenu des messages.",
             "You and your recipients. Access is recorded in a tamper-evident log; the operator and the host do not read message content.";
    FaqQ8 => "Puis-je envoyer des données de santé par le formulaire d'assistance ?", "May I send health data through the support form?";
    FaqA8 => "Non. Le formulaire d'assistance n'est pas une messagerie sécurisée : n'y indiquez aucune information sur un patient.",
             "No. The support form is not secure messaging: do not include any information about a patient.";

    // Supported configurations
    ConfigsTitle => "Configurations supportées", "Supported configurations";
    ConfigsIntro => "Les pages publiques fonctionnent avec tout navigateur récent, même sans JavaScript. Le webmail demande JavaScript et WebAssembly, disponibles dans les navigateurs ci-dessous.",
                    "The public pages work in any recent browser, even without JavaScript. The webmail needs JavaScript and WebAssembly, available in the browsers below.";
    ConfigsBrowsersTitle => "Navigateurs", "Browsers";
    ConfigsColProduct => "Logiciel", "Software";
    ConfigsColVersion => "Versions", "Versions";
    ConfigsColNote => "Remarque", "Note";
    ConfigsFirefox => "Firefox", "Firefox";
    ConfigsFirefoxV => "115 ESR et suivantes", "115 ESR and later";
    ConfigsChromium => "Chrome, Edge, Chromium", "Chrome, Edge, Chromium";
    ConfigsChromiumV => "120 et suivantes", "120 and later";
    ConfigsSafari => "Safari (macOS)", "Safari (macOS)";
    ConfigsSafariV => "16.4 et suivantes", "16.4 and later";
    ConfigsNoteUpdates => "Gardez votre navigateur à jour : les mises à jour corrigent des failles de sécurité.",
                         "Keep your browser up to date: updates fix security flaws.";
    ConfigsMobileTitle => "Téléphones et tablettes", "Phones and tablets";
    ConfigsIos => "iPhone et iPad (Safari)", "iPhone and iPad (Safari)";
    ConfigsIosV => "iOS 16.4 et suivantes", "iOS 16.4 and later";
    ConfigsAndroid => "Android (Chrome)", "Android (Chrome)";
    ConfigsAndroidV => "Chrome 120 et suivantes", "Chrome 120 and later";
    ConfigsNoteMobile => "Le webmail s'affiche dès 375 pixels de large ; aucune application à installer.",
                         "The webmail works from 375 pixels wide; no app to install.";
    ConfigsClientsTitle => "Clients de messagerie et logiciels métier", "Mail clients and business software";
    ConfigsClients1 => "L'accès par un client de messagerie (Thunderbird, Outlook, Apple Mail) n'est pas encore ouvert : utilisez le webmail.",
                       "Access from a mail client (Thunderbird, Outlook, Apple Mail) is not open yet: please use the webmail.";
    ConfigsClients2 => "Les logiciels métier se raccordent par des boîtes applicatives ; leur éditeur prend contact avec l'assistance.",
                       "Business software connects through application mailboxes; its vendor contacts support.";

    // Terms
    TermsTitle => "Conditions générales d'utilisation", "Terms of use";
    TermsVersionLine => "Version {version}, en vigueur depuis le {date}.", "Version {version}, in force since {date}.";
    TermsOldNotice => "Vous consultez une version antérieure. La version en vigueur est la version {version}.",
                      "You are reading an earlier version. The version in force is version {version}.";
    TermsReadCurrent => "Lire la version en vigueur", "Read the version in force";
    TermsAuthoritative => "Les conditions sont rédigées en français.", "These terms are published in French; the French text is the authoritative one.";
    TermsHistory => "Toutes les versions", "All versions";
    TermsHistoryItem => "Version {version} du {date}", "Version {version} of {date}";
    TermsCurrentMark => "(en vigueur)", "(in force)";
    TermsNotFound => "Cette version des conditions d'utilisation n'existe pas.", "This version of the terms of use does not exist.";

    // Cookies
    CookiesTitle => "Cookies", "Cookies";
    CookiesIntro => "Un cookie est un petit fichier déposé par le site dans votre navigateur. Hygie ne dépose que les cookies ci-dessous et ne charge jamais de script ou de contenu d'un tiers.",
                    "A cookie is a small file the site stores in your browser. Hygie only sets the cookies below and never loads any third-party script or content.";
    CookiesTableCaption => "Cookies déposés par Hygie", "Cookies set by Hygie";
    CookiesColName => "Nom", "Name";
    CookiesColPurpose => "Finalité", "Purpose";
    CookiesColLifetime => "Durée de vie", "Lifetime";
    CookiesColKind => "Catégorie", "Category";
    CookieLangPurpose => "Retient la langue que vous avez choisie.", "Remembers the language you chose.";
    CookieConsentPurpose => "Retient votre choix sur la mesure d'audience.", "Remembers your choice about audience measurement.";
    CookieAudiencePurpose => "Identifiant aléatoire qui permet de compter les visiteurs distincts des pages publiques du portail ; rien n'est compté dans la messagerie, l'annuaire ni votre compte. Les statistiques restent chez l'opérateur.",
                             "Random identifier used to count distinct visitors of the portal's public pages; nothing is counted in the mailbox, the directory or your account. The statistics stay with the operator.";
    CookieOneYear => "1 an", "1 year";
    CookieSixMonths => "6 mois", "6 months";
    CookieThirteenMonths => "13 mois", "13 months";
    CookieKindTechnical => "Technique (toujours déposé)", "Technical (always set)";
    CookieKindAudience => "Mesure d'audience (seulement avec votre accord)", "Audience measurement (only with your consent)";
    CookiesChoiceTitle => "Votre choix", "Your choice";
    CookiesChoiceAccepted => "Vous avez accepté la mesure d'audience.", "You accepted audience measurement.";
    CookiesChoiceRefused => "Vous avez refusé la mesure d'audience.", "You refused audience measurement.";
    CookiesChoiceUnknown => "Vous n'avez pas encore fait de choix : aucun cookie de mesure d'audience n'est déposé.",
                            "You have not chosen yet: no audience measurement cookie is set.";
    CookiesWithdraw => "Retirer mon consentement", "Withdraw my consent";
    CookiesAccept => "Accepter la mesure d'audience", "Accept audience measurement";
    CookiesRefuse => "Refuser la mesure d'audience", "Refuse audience measurement";

    // Legal notice
    LegalTitle => "Mentions légales", "Legal notice";
    LegalPublisher => "Éditeur et opérateur du service", "Publisher and operator of the service";
    LegalDirector => "Directeur de la publication", "Publication director";
    LegalHost => "Hébergeur de données de santé", "Health data host";
    LegalHostCert => "Certification", "Certification";
    LegalContact => "Contact", "Contact";
    LegalName => "Raison sociale", "Company name";
    LegalAddress => "Adresse", "Address";
    LegalPhone => "Téléphone", "Phone";
    LegalEmail => "Courriel", "Email";
    LegalRegistration => "Immatriculation", "Registration";
    LegalDataProtection => "Protection des données", "Data protection";
    LegalDataProtectionText => "Pour exercer vos droits sur vos données personnelles (accès, rectification, effacement, opposition), écrivez à l'assistance.",
                               "To exercise your rights over your personal data (access, rectification, erasure, objection), write to support.";

    // Assistance
    AssistanceTitle => "Assistance", "Support";
    AssistanceHoursTitle => "Horaires", "Opening hours";
    AssistancePhone => "Téléphone", "Phone";
    AssistanceFormTitle => "Écrire à l'assistance", "Write to support";
    AssistanceWarning => "Ce formulaire n'est pas une messagerie sécurisée : n'y indiquez aucune donnée de santé ni aucune information sur un patient, ni votre mot de passe ou un code reçu.",
                         "This form is not secure messaging: do not include any health data or information about a patient, nor your password or a code you received.";
    AssistanceRequired => "Tous les champs sont obligatoires.", "All fields are required.";
    FieldName => "Nom et prénom", "Full name";
    FieldEmail => "Adresse électronique pour vous répondre", "Email address for our reply";
    FieldEmailHint => "Exemple : prenom.nom@exemple.fr", "Example: first.last@example.org";
    FieldSubject => "Objet", "Subject";
    FieldMessage => "Message", "Message";
    FieldMessageHint => "Décrivez votre demande (10 à 5 000 caractères).", "Describe your request (10 to 5,000 characters).";
    AssistanceSend => "Envoyer la demande", "Send the request";
    AssistanceSending => "Envoi en cours…", "Sending…";
    AssistanceSent => "Votre demande a bien été envoyée. L'assistance vous répondra à l'adresse indiquée.",
                      "Your request has been sent. Support will reply to the address you gave.";
    AssistanceSentRef => "Référence de votre demande : {id}", "Your request reference: {id}";
    AssistanceAnother => "Envoyer une autre demande", "Send another request";
    ErrSummary => "La demande n'a pas été envoyée. Corrigez les champs signalés :", "The request was not sent. Please correct the fields marked:";
    ErrRequired => "Ce champ est obligatoire.", "This field is required.";
    ErrTooLong => "{max} caractères au maximum.", "{max} characters at most.";
    ErrTooShort => "Au moins {min} caractères.", "At least {min} characters.";
    ErrEmail => "Adresse électronique invalide (exemple : prenom.nom@exemple.fr).", "Invalid email address (example: first.last@example.org).";
    ErrSingleLine => "L'objet tient sur une seule ligne.", "The subject must fit on one line.";
    ErrControlChars => "Ce champ contient des caractères non autorisés.", "This field contains characters that are not allowed.";
    ErrRateLimited => "Trop de demandes ont été envoyées depuis votre connexion. Réessayez dans {minutes} minute(s) ; votre saisie est conservée.",
                      "Too many requests were sent from your connection. Try again in {minutes} minute(s); what you typed is kept.";
    ErrInternal => "Une erreur technique nous empêche d'enregistrer votre demande (référence {ref}). Votre saisie est conservée ; réessayez dans quelques minutes.",
                   "A technical error prevents us from recording your request (reference {ref}). What you typed is kept; try again in a few minutes.";
    ErrPhone => "Numéro invalide (exemple : 06 12 34 56 78 ou +33 6 12 34 56 78).", "Invalid number (example: +33 6 12 34 56 78).";
    ErrNotMobile => "Ce numéro n'est pas un mobile : il ne peut pas recevoir de SMS.", "This is not a mobile number: it cannot receive text messages.";
    ErrIdentifier => "Identifiant invalide : RPPS (11 chiffres) ou ADELI (9 caractères).", "Invalid identifier: RPPS (11 digits) or ADELI (9 characters).";
    ErrNotInstanceDomain => "L'adresse doit appartenir à un domaine de ce service.", "The address must be on one of this service's domains.";
    ErrOnSecureDomain => "L'adresse de notification doit être une messagerie ordinaire, hors de l'espace de confiance.", "The notification address must be an ordinary mailbox, outside the trust space.";
    ErrUnknownValue => "Valeur inconnue.", "Unknown value.";
    ErrForbidden => "Cette action n'est pas autorisée.", "This action is not allowed.";
    ErrNotFound => "Introuvable.", "Not found.";
    ErrUnauthorized => "Vous devez vous connecter.", "You need to sign in.";

    // Sign-in and account errors
    ErrBadCredentials => "Adresse ou mot de passe incorrect.", "Incorrect address or password.";
    ErrLocked => "Ce compte est verrouillé après de trop nombreuses tentatives. Un lien de déverrouillage a été envoyé à votre adresse de notification ; vous pouvez aussi contacter l'assistance.",
                 "This account is locked after too many attempts. An unlock link was sent to your notification address; you may also contact support.";
    ErrAccountUnavailable => "Ce compte n'est pas actif (non activé, suspendu ou clôturé). Contactez l'assistance.", "This account is not active (not activated, suspended or closed). Please contact support.";
    ErrWrongCode => "Code incorrect. Il vous reste {left} essai(s).", "Incorrect code. {left} attempt(s) left.";
    ErrCodeReplayed => "Ce code a déjà servi. Attendez que votre application en affiche un nouveau, puis saisissez-le.", "This code was already used. Wait for your app to show a new one, then type it.";
    ErrAppCodeWrong => "Ce code ne correspond pas. Saisissez le code affiché maintenant par l'application ; vérifiez que l'heure de l'appareil est juste.", "This code does not match. Type the code the app shows now; check that the device's clock is right.";
    ErrTooManyTerminals => "Ce compte a déjà le nombre maximal de terminaux. Retirez-en un d'abord.", "This account already has as many terminals as it may. Remove one first.";
    ErrKeyCancelled => "La clé n'a pas répondu : l'opération a été annulée ou le délai est passé. Réessayez, ou choisissez une autre méthode.", "The key did not answer: the operation was cancelled or timed out. Try again, or choose another method.";
    ErrKeyAlreadyRegistered => "Cette clé est déjà enregistrée sur votre compte.", "This key is already registered to your account.";
    ErrKeyUnsupported => "Ce navigateur ne permet pas d'utiliser une clé d'accès ici. Utilisez un navigateur récent, ou une autre méthode.", "This browser cannot use a passkey here. Use a recent browser, or another method.";
    ErrKeyTaken => "Cette clé est déjà enregistrée sur un autre compte : elle ne peut pas être ajoutée.", "This key is already registered to another account: it cannot be added.";
    ErrKeyUnavailable => "Les clés d'accès ne sont pas disponibles sur ce service. Utilisez une autre méthode.", "Passkeys are not available on this service. Use another method.";
    ErrKeyRefused => "La clé n'a pas été reconnue. Réessayez, ou choisissez une autre méthode.", "The key was not recognised. Try again, or choose another method.";
    ErrNoPhone => "Aucun téléphone n'est associé à ce compte.", "No phone is associated with this account.";
    ErrPhoneRefused => "La demande a été refusée sur le téléphone, ou elle a expiré. Vous pouvez en envoyer une nouvelle ou choisir une autre méthode.", "The request was refused on the phone, or it expired. You may send a new one or choose another method.";
    ErrWrongNumber => "Ce n'est pas le nombre affiché : la connexion est refusée. Si ce n'était pas vous, changez votre mot de passe.", "That is not the number shown: the sign-in is refused. If it was not you, change your password.";
    ErrRequestGone => "Cette demande n'est plus valable (expirée ou déjà traitée).", "This request is no longer valid (expired or already answered).";
    ErrCodeExpired => "Ce code a expiré ou a été essayé trop de fois. Recommencez la connexion pour en recevoir un nouveau.", "This code expired or was tried too many times. Start signing in again to get a new one.";
    ErrTermsPending => "Vous devez accepter les conditions d'utilisation en vigueur pour continuer.", "You must accept the terms of use in force to continue.";
    ErrReauthRequired => "Par sécurité, confirmez votre mot de passe pour faire cette modification.", "For your security, confirm your password to make this change.";
    ErrLinkExpired => "Ce lien n'est plus valable : il a expiré ou a déjà servi.", "This link is no longer valid: it expired or was already used.";
    ErrCommonPassword => "Ce mot de passe est trop courant ou trop facile à deviner. Une phrase de plusieurs mots est plus sûre et plus facile à retenir.", "This password is too common or too easy to guess. A phrase of several words is safer and easier to remember.";
    ErrPersonalPassword => "Le mot de passe ne doit pas reprendre votre nom ou votre adresse.", "The password must not reuse your name or address.";
    ErrInvalidCode => "Le code comporte 6 chiffres.", "The code has 6 digits.";
    ErrWrongPassword => "Mot de passe actuel incorrect.", "Incorrect current password.";
    ErrFormSummary => "Corrigez les champs signalés :", "Please correct the fields marked:";

    // Sign-in
    NavSignIn => "Se connecter", "Sign in";
    NavAccount => "Mon compte", "My account";
    SignInTitle => "Connexion à votre messagerie", "Sign in to your mailbox";
    SignInIntro => "Connectez-vous avec l'adresse de votre boîte aux lettres sécurisée, votre mot de passe, puis un code à usage unique.", "Sign in with your secure mailbox address, your password, then a one-time code.";
    FieldAddress => "Adresse de messagerie sécurisée", "Secure mailbox address";
    FieldAddressHint => "Exemple : prenom.nom@hygie.example", "Example: first.last@hygie.example";
    FieldPassword => "Mot de passe", "Password";
    ShowPassword => "Afficher le mot de passe", "Show password";
    SignInSubmit => "Continuer", "Continue";
    SignInWorking => "Vérification…", "Checking…";
    ForgotLink => "Mot de passe oublié ?", "Forgot your password?";
    CodeTitle => "Saisissez le code reçu", "Enter the code you received";
    CodeSentSms => "Un code à 6 chiffres a été envoyé par SMS au {to}. Il est valable 10 minutes.", "A 6-digit code was sent by text message to {to}. It is valid for 10 minutes.";
    CodeSentEmail => "Un code à 6 chiffres a été envoyé par e-mail à {to}. Il est valable 10 minutes.", "A 6-digit code was sent by email to {to}. It is valid for 10 minutes.";
    FieldCode => "Code à 6 chiffres", "6-digit code";
    CodeSubmit => "Se connecter", "Sign in";
    CodeResend => "Renvoyer un code", "Send a new code";
    CodeUseEmail => "Recevoir le code par e-mail plutôt (moins sûr)", "Get the code by email instead (less secure)";
    CodeEmailWeaker => "L'e-mail est moins sûr que le SMS : une boîte ordinaire est plus exposée. Préférez le SMS quand vous le pouvez.", "Email is less secure than a text message: an ordinary mailbox is more exposed. Prefer text messages when you can.";
    CodeResent => "Un nouveau code a été envoyé.", "A new code was sent.";
    CodeRestart => "Recommencer la connexion", "Start again";

    // Terms acceptance
    TermsAcceptTitle => "Conditions d'utilisation à accepter", "Terms of use to accept";
    TermsAcceptIntro => "Avant d'utiliser votre messagerie, lisez et acceptez les conditions d'utilisation en vigueur (version {version}).", "Before using your mailbox, read and accept the terms of use in force (version {version}).";
    TermsAcceptButton => "J'accepte les conditions d'utilisation", "I accept the terms of use";
    TermsRefuse => "Refuser et se déconnecter", "Refuse and sign out";

    // Device authorization (a software or mail client asks for access)
    DeviceTitle => "Connecter un logiciel", "Connect a software";
    ClientsTitle => "Logiciels et clients connectés", "Connected software and clients";
    ClientsIntro => "Les logiciels et clients de messagerie auxquels vous avez donné accès à votre messagerie. Retirez ceux que vous n'utilisez plus : ils perdent l'accès aussitôt.", "The software and mail clients you gave access to your mailbox. Withdraw those you no longer use: they lose access at once.";
    ClientsNone => "Aucun logiciel n'a accès à votre messagerie.", "No software has access to your mailbox.";
    ClientsRevoke => "Retirer l'accès", "Withdraw access";
    ClientsRevokeLabel => "Retirer l'accès de {name}", "Withdraw access from {name}";
    DeviceIntro => "Un logiciel ou un client de messagerie vous affiche un code : saisissez-le ici pour lui donner accès à votre messagerie.", "A software or mail client shows you a code: type it here to give it access to your mailbox.";
    DeviceCodeLabel => "Code affiché par le logiciel", "Code shown by the software";
    DeviceCodeHelp => "Huit lettres, par exemple BCDF-GHJK.", "Eight letters, for example BCDF-GHJK.";
    DeviceContinue => "Continuer", "Continue";
    DeviceAsks => "« {client} » demande l'accès à votre messagerie : lire, classer et envoyer vos messages en votre nom.", "\"{client}\" asks for access to your mailbox: to read, file and send your messages in your name.";
    DeviceWarning => "N'autorisez que le logiciel que vous êtes en train de configurer. Vous pourrez retirer cet accès à tout moment dans « Mes terminaux ».", "Only allow the software you are setting up. You can withdraw this access at any time in \"My terminals\".";
    DeviceApprove => "Autoriser", "Allow";
    DeviceRefuse => "Refuser", "Refuse";
    DeviceApproved => "C'est fait : « {client} » a accès à votre messagerie. Vous pouvez revenir au logiciel.", "Done: \"{client}\" has access to your mailbox. You can go back to the software.";
    DeviceRefused => "Accès refusé : le logiciel ne recevra rien.", "Access refused: the software will get nothing.";
    DeviceSignIn => "Connectez-vous pour autoriser un logiciel.", "Sign in to allow a software.";
    // Authorization code grant (a software opens Hygie in the browser)
    AuthorizeTitle => "Autoriser un logiciel", "Allow a software";
    ConsentAccount => "Messagerie concernée : {account}", "Mailbox concerned: {account}";
    AuthorizeInvalid => "Cette demande d'accès n'est pas valable : le logiciel est inconnu de Hygie, ou l'adresse de retour n'est pas la sienne. Rien n'a été transmis au logiciel ; vérifiez sa configuration.", "This access request is not valid: the software is unknown to Hygie, or the return address is not its own. Nothing was sent to the software; check its configuration.";
    ErrDeviceCode => "Ce code n'existe pas ou a expiré. Vérifiez-le sur l'écran du logiciel, ou demandez-en un nouveau.", "This code does not exist or has expired. Check it on the software's screen, or ask for a new one.";

    // Account page
    AccountTitle => "Mon compte", "My account";
    SignOut => "Se déconnecter", "Sign out";
    AccountIdentity => "Identité", "Identity";
    AccountAddress => "Adresse sécurisée", "Secure address";
    AccountName => "Titulaire", "Holder";
    AccountKind => "Catégorie", "Category";
    KindHealth => "Professionnel de santé", "Health professional";
    KindOther => "Professionnel habilité", "Authorised professional";
    AccountIdentifier => "Identifiant", "Identifier";
    AccountContact => "Coordonnées de notification", "Notification details";
    AccountNotificationEmail => "Adresse de notification", "Notification address";
    AccountMobile => "Téléphone mobile", "Mobile phone";
    AccountNoMobile => "Aucun (les codes arrivent par e-mail)", "None (codes arrive by email)";
    Change => "Modifier", "Change";
    Cancel => "Annuler", "Cancel";
    Save => "Enregistrer", "Save";
    Saved => "Modification enregistrée.", "Change saved.";
    FieldNewEmail => "Nouvelle adresse de notification", "New notification address";
    FieldNewMobile => "Nouveau numéro de mobile", "New mobile number";
    FieldNewMobileHint => "Exemple : 06 12 34 56 78", "Example: +33 6 12 34 56 78";
    SendCode => "Recevoir un code de confirmation", "Get a confirmation code";
    ConfirmCodeSentEmail => "Un code de confirmation a été envoyé à {to}.", "A confirmation code was sent to {to}.";
    ConfirmCodeSentSms => "Un code de confirmation a été envoyé par SMS au {to}.", "A confirmation code was sent by text message to {to}.";
    Confirm => "Confirmer", "Confirm";
    ReauthTitle => "Confirmez votre mot de passe", "Confirm your password";
    AccountPassword => "Mot de passe", "Password";
    FieldCurrentPassword => "Mot de passe actuel", "Current password";
    FieldNewPassword => "Nouveau mot de passe", "New password";
    FieldNewPasswordHint => "Au moins 12 caractères. Une phrase de quelques mots est idéale ; tous les caractères sont acceptés.", "At least 12 characters. A phrase of a few words is ideal; every character is accepted.";
    ChangePassword => "Changer le mot de passe", "Change password";
    PasswordChanged => "Mot de passe modifié. Vos autres sessions ont été fermées.", "Password changed. Your other sessions were ended.";
    AccountPreferences => "Préférences", "Preferences";
    PrefNotify => "M'avertir par e-mail à mon adresse de notification quand je reçois un message", "Email me at my notification address when I receive a message";
    PrefListeRouge => "Liste rouge : ne pas figurer dans l'annuaire", "Unlisted: do not appear in the directory";
    PrefPublishPhone => "Publier mon numéro de téléphone dans l'annuaire", "Publish my phone number in the directory";
    PrefNoPaper => "Je ne souhaite plus recevoir de documents papier", "I no longer wish to receive paper documents";
    AccountTerminals => "Mes terminaux", "My terminals";
    TerminalsIntro => "Un terminal prouve que c'est bien vous qui vous connectez. Une clé d'accès suffit à elle seule ; une application d'authentification (FreeOTP, Google Authenticator, Microsoft Authenticator…) s'ajoute au mot de passe et reste plus sûre qu'un code reçu par SMS ou par e-mail. La méthode la plus sûre vous est proposée en premier.", "A terminal proves it is really you signing in. A passkey is enough on its own; an authenticator app (FreeOTP, Google Authenticator, Microsoft Authenticator…) comes with the password and is still safer than a code by text message or email. The safest method is offered first.";
    TerminalsNone => "Aucun terminal pour l'instant : vos codes de connexion arrivent par SMS ou par e-mail.", "No terminal yet: your sign-in codes come by text message or email.";
    TerminalKindTotp => "Application d'authentification", "Authenticator app";
    TerminalAddedOn => "ajouté le {date}", "added {date}";
    TerminalLastUsed => "dernière utilisation le {date}", "last used {date}";
    TerminalRemove => "Retirer", "Remove";
    TerminalRemoveLabel => "Retirer le terminal {name}", "Remove the terminal {name}";
    TerminalKindPasskey => "Clé d'accès", "Passkey";
    TerminalFlagged => "Bloquée : son compteur de signatures est revenu en arrière, elle a peut-être été copiée. Retirez-la puis ajoutez-la de nouveau si elle est bien à vous.", "Blocked: its signature counter went backwards, it may have been copied. Remove it, then add it again if it is yours.";
    TerminalAddPasskey => "Ajouter une clé d'accès", "Add a passkey";
    PasskeyNameDefault => "Clé d'accès", "Passkey";
    PasskeyAddHint => "Une clé d'accès (empreinte, visage ou code de cet appareil, ou clé de sécurité USB/NFC) vous connecte sans mot de passe ni code : c'est la méthode la plus sûre.", "A passkey (this device's fingerprint, face or PIN, or a USB/NFC security key) signs you in with no password or code: the safest method.";
    PasskeyWaiting => "Suivez les instructions de votre navigateur ou de votre clé…", "Follow your browser's or key's instructions…";
    PasskeyAddedNotice => "La clé d'accès « {name} » est ajoutée : elle suffit désormais pour vous connecter.", "The passkey \"{name}\" is added: it is now enough to sign you in.";
    TerminalKindPhone => "Téléphone (validation des connexions)", "Phone (approves sign-ins)";
    TerminalAddPhone => "Ajouter mon téléphone", "Add my phone";
    PhoneLinkTitle => "Ouvrez ce lien sur votre téléphone", "Open this link on your phone";
    PhoneLinkSteps => "Scannez ce code QR avec l'appareil photo de votre téléphone (ou ouvrez le lien ci-dessous sur le téléphone), connectez-vous, puis suivez les instructions. Le lien est valable 10 minutes et ne sert qu'une fois.", "Scan this QR code with your phone's camera (or open the link below on the phone), sign in, then follow the instructions. The link is valid for 10 minutes and works once.";
    PhoneQrLabel => "Code QR à scanner avec le téléphone", "QR code to scan with the phone";
    PhoneLinkDone => "J'ai terminé sur le téléphone", "I am done on the phone";
    PhonePageTitle => "Hygie sur ce téléphone", "Hygie on this phone";
    PhoneAddTitle => "Associer ce téléphone à votre compte", "Add this phone to your account";
    PhoneAddIntro => "Ce téléphone validera vos connexions : à chaque connexion, il vous demandera de choisir le nombre affiché à l'écran, puis de confirmer avec son déverrouillage (empreinte, visage ou code). Installez Hygie sur l'écran d'accueil pour recevoir les demandes.", "This phone will approve your sign-ins: at each one it asks you to choose the number shown on the screen, then to confirm with its unlock (fingerprint, face or PIN). Install Hygie on the home screen to get the requests.";
    PhoneAddButton => "Associer ce téléphone", "Add this phone";
    PhoneNameDefault => "Mon téléphone", "My phone";
    PhoneAdded => "Ce téléphone est associé. Les demandes de connexion s'afficheront ici.", "This phone is added. Sign-in requests will show here.";
    PhoneLinkDead => "Ce lien n'est plus valable : affichez-en un nouveau dans « Mes terminaux ».", "This link is no longer valid: show a new one in \"My terminals\".";
    PhoneSignInFirst => "Connectez-vous d'abord sur ce téléphone, puis ouvrez de nouveau le lien.", "Sign in on this phone first, then open the link again.";
    PhoneNotAdded => "Ce téléphone n'est pas associé à un compte. Ajoutez-le depuis « Mes terminaux » sur votre ordinateur.", "This phone is not added to an account. Add it from \"My terminals\" on your computer.";
    PhoneNoRequest => "Aucune demande de connexion en attente.", "No sign-in request waiting.";
    PhoneRequestTitle => "Demande de connexion", "Sign-in request";
    PhoneRequestFrom => "Depuis l'adresse {ip}, le {date}. Choisissez le nombre affiché sur l'écran de connexion :", "From address {ip}, on {date}. Choose the number shown on the sign-in screen:";
    PhoneApproved => "Connexion validée.", "Sign-in approved.";
    PhoneChooseLabel => "Choisir {n}", "Choose {n}";
    TerminalKindSecurityKey => "Clé de sécurité (après le mot de passe)", "Security key (after the password)";
    TerminalAddSecurityKey => "Ajouter une clé de sécurité sans code", "Add a security key without a PIN";
    SecurityKeyNameDefault => "Clé de sécurité", "Security key";
    SecurityKeyAddedNotice => "La clé de sécurité « {name} » est ajoutée : elle vous sera demandée après le mot de passe.", "The security key \"{name}\" is added: it will be asked for after the password.";
    TerminalAddTotp => "Ajouter une application d'authentification", "Add an authenticator app";
    FieldTerminalName => "Nom du terminal", "Terminal name";
    FieldTerminalNameHint => "Pour le reconnaître, par exemple « Téléphone du cabinet ».", "To recognise it, for example \"Practice phone\".";
    TerminalNameDefault => "Application d'authentification", "Authenticator app";
    Next => "Continuer", "Continue";
    TotpScanTitle => "Associer l'application", "Link the app";
    TotpStepOpen => "Ouvrez votre application d'authentification et ajoutez un compte.", "Open your authenticator app and add an account.";
    TotpStepScan => "Scannez ce code QR avec l'application, ou saisissez la clé ci-dessous.", "Scan this QR code with the app, or type the key below.";
    TotpStepCode => "Saisissez le code à 6 chiffres que l'application affiche maintenant.", "Type the 6-digit code the app shows now.";
    TotpQrLabel => "Code QR à scanner avec l'application d'authentification", "QR code to scan with the authenticator app";
    TotpManualKey => "Clé à saisir :", "Key to type:";
    TotpOpenLink => "Ouvrir dans l'application de cet appareil", "Open in this device's app";
    TotpConfirm => "Vérifier et ajouter", "Check and add";
    TerminalAddedNotice => "L'application « {name} » est ajoutée : son code vous sera demandé à la prochaine connexion.", "The app \"{name}\" is added: its code will be asked for at your next sign-in.";
    TerminalRemovedNotice => "Terminal retiré.", "Terminal removed.";
    SessionFactor => "Vérification", "Verified by";
    FactorPasskey => "Clé d'accès", "Passkey";
    FactorRecovery => "Code de secours", "Recovery code";
    SessionLevel => "Niveau", "Level";
    LevelHardware => "Lié au matériel", "Hardware-bound";
    LevelTwoFactors => "Deux facteurs", "Two factors";
    LevelPasswordOnly => "Mot de passe seul (connexion en cours)", "Password only (signing in)";
    FactorPhone => "Téléphone", "Phone";
    FactorTotp => "Application d'authentification", "Authenticator app";
    FactorSms => "Code par SMS", "Text message code";
    FactorEmail => "Code par e-mail", "Email code";
    CodeTotpTitle => "Saisissez le code de votre application", "Enter your app's code";
    CodeTotpPrompt => "Ouvrez votre application d'authentification et saisissez le code à 6 chiffres affiché pour Hygie.", "Open your authenticator app and type the 6-digit code shown for Hygie.";
    SignInPasskey => "Se connecter avec une clé d'accès", "Sign in with a passkey";
    SignInPasskeyHint => "Sans mot de passe : votre appareil ou votre clé de sécurité vous reconnaît.", "No password: your device or security key recognises you.";
    SignInOr => "ou", "or";
    CodePasskeyTitle => "Confirmez avec votre clé d'accès", "Confirm with your passkey";
    CodePasskeyPrompt => "Utilisez la clé d'accès enregistrée sur votre compte (empreinte, visage, code de l'appareil ou clé de sécurité).", "Use the passkey registered to your account (fingerprint, face, device PIN or security key).";
    CodeUsePasskey => "Utiliser ma clé d'accès", "Use my passkey";
    CodeOrTerminal => "Ou saisissez le code de votre application d'authentification, ou un code de secours :", "Or type your authenticator app's code, or a recovery code:";
    CodeOrRecovery => "Ou saisissez l'un de vos codes de secours :", "Or type one of your recovery codes:";
    FieldRecoveryCode => "Code de secours", "Recovery code";
    FieldRecoveryCodeHint => "L'un de vos codes de secours imprimés, par exemple abcde-23456.", "One of your printed recovery codes, for example abcde-23456.";
    CodeUsePhone => "Valider sur mon téléphone", "Approve on my phone";
    CodePhoneTitle => "Validez sur votre téléphone", "Approve on your phone";
    CodePhonePrompt => "Une demande a été envoyée à votre téléphone. Choisissez-y ce nombre, puis confirmez :", "A request was sent to your phone. Choose this number there, then confirm:";
    CodePhoneWaiting => "En attente de votre téléphone… (2 minutes)", "Waiting for your phone… (2 minutes)";
    CodePhoneIntro => "Votre téléphone peut valider cette connexion.", "Your phone can approve this sign-in.";
    CodeUseSms => "Recevoir plutôt un code par SMS", "Get a code by text message instead";
    RecoveryTitle => "Vos codes de secours", "Your recovery codes";
    RecoveryIntro => "Si vous perdez votre terminal, chacun de ces codes permet une fois de vous connecter ou de réinitialiser votre mot de passe. Imprimez-les ou notez-les et gardez-les en lieu sûr, à l'écart de votre ordinateur : ils ne seront plus affichés.", "If you lose your terminal, each of these codes lets you sign in or reset your password once. Print or write them down and keep them somewhere safe, away from your computer: they will not be shown again.";
    RecoveryPrint => "Imprimer", "Print";
    RecoveryKept => "Je les ai mis en lieu sûr", "I have put them somewhere safe";
    RecoveryRenew => "Nouveaux codes de secours", "New recovery codes";
    AccountSessions => "Sessions ouvertes", "Open sessions";
    SessionDevice => "Appareil", "Device";
    SessionIp => "Adresse IP", "IP address";
    SessionStarted => "Ouverte le", "Started";
    SessionLastSeen => "Dernière activité", "Last activity";
    SessionThis => "Cette session", "This session";
    SessionEnd => "Fermer", "End";
    SessionEndLabel => "Fermer la session {device} ouverte le {started}", "End the {device} session started {started}";
    SessionEndOthers => "Fermer toutes les autres sessions", "End all other sessions";
    SessionsEnded => "{count} session(s) fermée(s).", "{count} session(s) ended.";
    SessionActions => "Action", "Action";

    // Activation, reset, unlock
    ActivationTitle => "Activer votre compte", "Activate your account";
    ActivationIntro => "Choisissez le mot de passe de votre messagerie sécurisée.", "Choose the password of your secure mailbox.";
    ActivationSubmit => "Activer mon compte", "Activate my account";
    ActivationDone => "Votre compte est activé. Vous pouvez maintenant vous connecter.", "Your account is activated. You can now sign in.";
    ForgotTitle => "Mot de passe oublié", "Forgot your password";
    ForgotIntro => "Indiquez l'adresse de votre messagerie sécurisée : nous enverrons un lien de réinitialisation à votre adresse de notification, et un code par SMS si un mobile est enregistré.", "Enter your secure mailbox address: we will send a reset link to your notification address, and a code by text message if a mobile is registered.";
    ForgotSubmit => "Recevoir le lien", "Send the link";
    ForgotDone => "Si un compte actif correspond à cette adresse, un lien de réinitialisation valable 1 heure vient d'être envoyé à son adresse de notification.", "If an active account matches this address, a reset link valid for 1 hour was just sent to its notification address.";
    ResetTitle => "Choisir un nouveau mot de passe", "Choose a new password";
    FieldTerminalCode => "Code de l'application d'authentification, ou code de secours", "Authenticator app code, or recovery code";
    FieldTerminalCodeHint => "Le code à 6 chiffres affiché par votre application, ou l'un de vos codes de secours imprimés (par exemple abcde-23456).", "The 6-digit code your app shows, or one of your printed recovery codes (for example abcde-23456).";
    ResetCodeHint => "Le code reçu par SMS avec ce lien.", "The code you received by text message with this link.";
    ResetSubmit => "Enregistrer le nouveau mot de passe", "Save the new password";
    ResetDone => "Votre mot de passe est changé et toutes vos sessions ont été fermées. Connectez-vous avec le nouveau mot de passe.", "Your password is changed and all your sessions were ended. Sign in with the new password.";
    UnlockTitle => "Déverrouiller votre compte", "Unlock your account";
    UnlockIntro => "Votre compte a été verrouillé après de nombreuses tentatives de connexion échouées.", "Your account was locked after many failed sign-in attempts.";
    UnlockSubmit => "Déverrouiller mon compte", "Unlock my account";
    UnlockDone => "Votre compte est déverrouillé. Si vous n'êtes pas à l'origine des tentatives, changez votre mot de passe après vous être connecté.", "Your account is unlocked. If the attempts were not yours, change your password once signed in.";
    GoToSignIn => "Aller à la connexion", "Go to sign-in";

    // Webmail
    NavMail => "Messagerie", "Mail";
    FoldersLabel => "Dossiers", "Folders";
    PortalLink => "Portail Hygie (accueil, aide)", "Hygie portal (home, help)";
    AccountMenu => "Menu du compte", "Account menu";
    CloseFolders => "Fermer les dossiers", "Close the folders";
    MoreActions => "Plus d'actions", "More actions";
    SelectedCount => "{count} sélectionné(s)", "{count} selected";
    DensityLabel => "Affichage de la liste", "List display";
    DensityComfortable => "Confortable", "Comfortable";
    DensityCompact => "Compact", "Compact";
    Yesterday => "hier", "yesterday";
    BackToList => "Retour à la liste", "Back to the list";
    MessageListLabel => "Messages du dossier", "Messages of the folder";
    MessageNavLabel => "Parcourir les messages", "Browse the messages";
    NextMessage => "Message suivant", "Next message";
    PreviousMessage => "Message précédent", "Previous message";
    ThemeLabel => "Thème", "Theme";
    ThemeSystem => "Comme l'appareil", "As the device";
    ThemeLight => "Clair", "Light";
    ThemeDark => "Sombre", "Dark";
    ReadingPaneEmpty => "Choisissez un message à lire.", "Choose a message to read.";
    FolderInbox => "Boîte de réception", "Inbox";
    FolderSent => "Envoyés", "Sent";
    FolderDrafts => "Brouillons", "Drafts";
    FolderArchive => "Archives", "Archive";
    FolderTrash => "Corbeille", "Trash";
    UnreadCount => "non lu(s)", "unread";
    Write => "Écrire", "Write";
    NoMessages => "Aucun message dans ce dossier.", "No message in this folder.";
    NoSubject => "(sans objet)", "(no subject)";
    Unread => "Non lu", "Unread";
    Urgent => "Urgent", "Urgent";
    PageInfo => "{from}–{to} sur {total}", "{from}–{to} of {total}";
    NewerPage => "Messages plus récents", "Newer messages";
    OlderPage => "Messages plus anciens", "Older messages";
    MailFrom => "De", "From";
    MailTo => "À", "To";
    MailCc => "Cc", "Cc";
    MailBcc => "Cci", "Bcc";
    MailDate => "Date", "Date";
    Reply => "Répondre", "Reply";
    ReplyAll => "Répondre à tous", "Reply all";
    Attachments => "Pièces jointes", "Attachments";
    ComposeTitle => "Nouveau message", "New message";
    FieldTo => "À", "To";
    FieldCc => "Cc", "Cc";
    FieldBcc => "Cci (copie cachée)", "Bcc (blind copy)";
    FieldRecipientsHint => "Adresses de messagerie sécurisée de santé, séparées par des virgules.", "Secure health mailbox addresses, separated by commas.";
    FieldMailSubject => "Objet", "Subject";
    FieldBody => "Message", "Message";
    FieldUrgent => "Marquer comme urgent", "Mark as urgent";
    Send => "Envoyer", "Send";
    Sending => "Envoi…", "Sending…";
    SentNotice => "Message envoyé.", "Message sent.";
    ReplyQuote => "Le {date}, {who} a écrit :", "On {date}, {who} wrote:";
    Forward => "Transférer", "Forward";
    Flagged => "suivi", "flagged";
    Flag => "Suivre", "Flag";
    ImagesBlocked => "Les images distantes de ce message sont bloquées : les afficher préviendrait l'expéditeur que vous l'avez ouvert.", "Remote images in this message are blocked: showing them would tell the sender you opened it.";
    ImagesAllow => "Toujours afficher les images de {sender}", "Always show images from {sender}";
    Close => "Fermer", "Close";
    FoldConversations => "Regrouper les conversations", "Group conversations";
    SelectConversation => "Sélectionner la conversation : {subject} ({count} messages)", "Select the conversation: {subject} ({count} messages)";
    Download => "Télécharger", "Download";
    PreviewOpen => "Aperçu", "Preview";
    PreviewOpenOf => "Aperçu de {name}", "Preview of {name}";
    PreviewTitle => "Aperçu : {name}", "Preview: {name}";
    PreviewLoading => "Préparation de l'aperçu…", "Preparing the preview…";
    PreviewPage => "Page {n} sur {count}", "Page {n} of {count}";
    PreviewPageFailed => "La page {n} ne peut pas être affichée.", "Page {n} cannot be shown.";
    PreviewUnreadable => "Ce fichier ne peut pas être affiché ici (protégé par mot de passe ou endommagé). Téléchargez-le pour l'ouvrir.", "This file cannot be shown here (password-protected or damaged). Download it to open it.";
    PreviewTruncated => "L'aperçu montre les {shown} premières pages sur {count} ; téléchargez le fichier pour le lire en entier.", "The preview shows the first {shown} pages of {count}; download the file to read all of it.";
    PreviewSafety => "Aperçu en images : rien de ce que contient le document ne s'exécute.", "Preview as images: nothing the document contains is run.";
    KeysTitle => "Raccourcis clavier", "Keyboard shortcuts";
    KeyCompose => "Écrire un message", "Write a message";
    KeySearch => "Aller à la recherche", "Go to search";
    KeyNext => "Message suivant de la liste", "Next message in the list";
    KeyPrevious => "Message précédent de la liste", "Previous message in the list";
    KeySelect => "Sélectionner ou désélectionner le message", "Select or unselect the message";
    KeyArchive => "Archiver (la sélection, ou le message ouvert)", "Archive (the selection, or the open message)";
    KeyDelete => "Mettre à la corbeille (la sélection, ou le message ouvert)", "Move to the Trash (the selection, or the open message)";
    KeyReply => "Répondre (message ouvert)", "Reply (open message)";
    KeyReplyAll => "Répondre à tous (message ouvert)", "Reply all (open message)";
    KeyForward => "Transférer (message ouvert)", "Forward (open message)";
    KeyBack => "Revenir à la liste", "Back to the list";
    KeyHelp => "Afficher ou masquer cette liste", "Show or hide this list";
    NewMailArrived => "Nouveau message reçu.", "New message received.";
    ErrFolderName => "Donnez au dossier un nom de 1 à {max} caractères, sans barre oblique.", "Give the folder a name of 1 to {max} characters, without a slash.";
    ErrFolderExists => "Un dossier porte déjà ce nom à cet endroit.", "A folder already has this name here.";
    ErrFolderTooDeep => "Les dossiers s'imbriquent sur trois niveaux au plus.", "Folders nest three levels deep at most.";
    MyFolders => "Mes dossiers", "My folders";
    FolderNew => "Nouveau dossier", "New folder";
    FolderName => "Nom du dossier", "Folder name";
    FolderParent => "Placer dans", "Put inside";
    FolderTop => "(au premier niveau)", "(top level)";
    FolderCreate => "Créer le dossier", "Create folder";
    FolderRename => "Renommer", "Rename";
    FolderRenameSave => "Enregistrer le nom", "Save the name";
    FolderDelete => "Supprimer le dossier", "Delete folder";
    FolderDeleteConfirm => "Confirmer : supprimer le dossier et ses sous-dossiers (leurs messages iront dans la corbeille)", "Confirm: delete the folder and its sub-folders (their messages go to the Trash)";
    MoveTo => "Déplacer vers", "Move to";
    Move => "Déplacer", "Move";
    DraftSave => "Enregistrer le brouillon", "Save draft";
    DraftDiscard => "Abandonner", "Discard";
    DraftSaving => "Enregistrement du brouillon…", "Saving draft…";
    DraftSaved => "Brouillon enregistré.", "Draft saved.";
    Unflag => "Ne plus suivre", "Unflag";
    ThreadMessages => "messages dans la conversation", "messages in the conversation";
    WithAttachments => "avec pièces jointes", "with attachments";
    ConversationTitle => "Conversation ({count} messages)", "Conversation ({count} messages)";
    ForwardIntro => "-------- Message transféré --------\nDe : {from}\nDate : {date}\nObjet : {subject}\nÀ : {to}", "-------- Forwarded message --------\nFrom: {from}\nDate: {date}\nSubject: {subject}\nTo: {to}";
    UnitMb => "Mo", "MB";
    UnitKb => "ko", "kB";
    AttachHint => "Jusqu'à {max} par message, texte et pièces jointes ensemble.", "Up to {max} per message, text and attachments together.";
    AttachChoose => "Joindre des fichiers", "Attach files";
    AttachDrop => "ou glissez-les ici", "or drop them here";
    AttachTooBig => "« {name} » ({size}) n'a pas été ajouté : le message dépasserait {max}. Envoyez-le dans un second message.", "“{name}” ({size}) was not added: the message would be over {max}. Send it in a second message.";
    AttachForwarded => "du message transféré", "from the forwarded message";
    AttachRemove => "Retirer {name}", "Remove {name}";
    Remove => "Retirer", "Remove";
    AttachProgress => "Envoi de {name}", "Uploading {name}";
    AttachDone => "prêt", "ready";
    AttachFailed => "L'envoi de ce fichier a échoué. Retirez-le puis ajoutez-le de nouveau.", "This file could not be uploaded. Remove it, then add it again.";
    AttachWaiting => "Pièces jointes en cours d'envoi…", "Attachments uploading…";
    AttachNotReady => "Attendez la fin de l'envoi des pièces jointes, ou retirez celles qui ont échoué.", "Wait for the attachments to finish uploading, or remove the ones that failed.";
    QuotaUsed => "Espace utilisé : {used} sur {quota}", "Storage used: {used} of {quota}";
    ErrMailSummary => "Le message n'a pas été envoyé. Corrigez les champs signalés :", "The message was not sent. Please correct the fields marked:";
    ErrRecipientOutside => "{address} n'appartient pas à l'espace de confiance de la messagerie sécurisée de santé : le message n'a pas été envoyé.", "{address} is outside the secure health messaging trust space: the message was not sent.";
    ErrRecipientUnknown => "Aucune boîte aux lettres {address} n'existe sur ce service : le message n'a pas été envoyé.", "There is no mailbox {address} on this service: the message was not sent.";
    ErrRecipientFull => "La boîte aux lettres de {address} est pleine : elle ne peut rien recevoir pour l'instant. Le message n'a pas été envoyé.", "{address}'s mailbox is full and cannot receive anything for now. The message was not sent.";
    ErrTooLargeForPatient => "Un message à un patient (Mon Espace Santé) ne peut dépasser {max} Mo une fois envoyé, pièces jointes encodées comprises. Retirez une pièce jointe, ou envoyez-la dans un second message.", "A message to a patient (Mon Espace Santé) cannot be over {max} MB as sent, encoded attachments included. Remove an attachment, or send it in a second message.";
    ErrTooLarge => "Le message dépasse {max} Mo (texte et pièces jointes ensemble). Retirez une pièce jointe, ou envoyez-la dans un second message.", "The message is over {max} MB (text and attachments together). Remove an attachment, or send it in a second message.";
    ErrQuotaExceeded => "Votre boîte aux lettres est pleine ({quota} Mo). Supprimez des messages et videz la corbeille pour libérer de la place. Le message n'a pas été envoyé.", "Your mailbox is full ({quota} MB). Delete messages and empty the Trash to make room. The message was not sent.";
    ErrDraftGone => "Ce brouillon a été envoyé ou supprimé depuis une autre fenêtre. Votre texte est toujours ici : il est enregistré comme un nouveau brouillon.", "This draft was sent or deleted from another window. Your text is still here: it is saved as a new draft.";
    // Receipts: read receipts asked and answered, each recipient's timeline
    FieldReadReceipt => "Demander un accusé de lecture", "Request a read receipt";
    FieldPatientNoReply => "Le patient ne peut pas répondre", "The patient cannot reply";
    FieldPatientNoReplyHelp => "Le message arrive dans Mon Espace Santé sans possibilité de réponse.", "The message reaches Mon Espace Santé without the option to reply.";
    ReceiptAsk => "L'expéditeur demande un accusé de lecture. L'envoyer ?", "The sender asks for a read receipt. Send it?";
    ReceiptSend => "Envoyer l'accusé de lecture", "Send the read receipt";
    ReceiptDecline => "Ne pas l'envoyer", "Do not send it";
    ReceiptSentNotice => "Accusé de lecture envoyé à l'expéditeur.", "Read receipt sent to the sender.";
    ReceiptDeclinedNotice => "Vous avez choisi de ne pas envoyer d'accusé de lecture.", "You chose not to send a read receipt.";
    ReceiptsTitle => "Suivi par destinataire", "Progress per recipient";
    ReceiptReport => "voir le rapport", "view the report";
    ReceiptCode => "code {code}", "code {code}";
    StepQueued => "Mis en file d'envoi", "Queued";
    StepHandedOver => "Transmis au serveur de son opérateur", "Handed over to their operator's server";
    StepDelivered => "Remis dans sa boîte", "Delivered to their mailbox";
    StepRelayed => "Relayé (pas de suivi au-delà)", "Relayed (no tracking beyond)";
    StepDelayed => "Remise retardée, nouvelles tentatives en cours", "Delivery delayed, still trying";
    StepFailed => "Non remis", "Not delivered";
    StepRead => "Lu", "Read";
    StepReadFailed => "Non intégré par le logiciel du destinataire", "Not integrated by the recipient's software";
    ReceiptMarkPending => "Remise en cours", "Being delivered";
    ReceiptMarkDelivered => "Remis à tous les destinataires", "Delivered to every recipient";
    ReceiptMarkRead => "Lu par tous les destinataires", "Read by every recipient";
    ReceiptMarkFailed => "Non remis à au moins un destinataire", "Not delivered to at least one recipient";
    ReasonUnknownMailbox => "adresse inconnue chez le destinataire", "unknown address at the recipient's";
    ReasonUnknownDomain => "domaine du destinataire inconnu", "unknown recipient domain";
    ReasonMailboxFull => "boîte aux lettres du destinataire pleine", "recipient's mailbox full";
    ReasonMailboxDisabled => "boîte aux lettres du destinataire désactivée", "recipient's mailbox disabled";
    ReasonTooLarge => "message trop volumineux pour le serveur du destinataire", "message too large for the recipient's server";
    ReasonRefused => "refusé par la politique de sécurité du serveur du destinataire", "refused by the recipient's server security policy";
    ReasonExpired => "délai de remise dépassé", "delivery period expired";
    ReasonTemporary => "erreur temporaire du serveur du destinataire", "temporary error of the recipient's server";
    ReasonRejected => "refusé par le serveur du destinataire", "refused by the recipient's server";
    ReasonUnreachable => "serveur du destinataire injoignable pendant le délai de remise", "recipient's server unreachable within the delivery period";
    ReasonMss903 => "INS du patient absent", "patient's INS missing";
    ReasonMss904 => "INS du patient ne correspondant pas à l'identité connue", "patient's INS not matching the known identity";
    ReasonMss905 => "identité du patient incomplète", "patient's identity incomplete";
    ReasonMssOther => "erreur d'intégration dans le logiciel du destinataire", "integration error in the recipient's software";
    SettingReadReceipts => "Accusés de lecture demandés par vos correspondants", "Read receipts your correspondents ask for";
    SettingReceiptsAlways => "Toujours les envoyer", "Always send them";
    SettingReceiptsAsk => "Me demander à chaque fois", "Ask me each time";
    SettingReceiptsNever => "Ne jamais les envoyer", "Never send them";
    SelectionActions => "Actions sur la sélection", "Actions on the selection";
    SelectMessage => "Sélectionner : {subject}", "Select: {subject}";
    MarkRead => "Marquer comme lu", "Mark as read";
    MarkUnread => "Marquer comme non lu", "Mark as unread";
    Archive => "Archiver", "Archive";
    Delete => "Supprimer", "Delete";
    Restore => "Restaurer", "Restore";
    DeleteForever => "Supprimer définitivement", "Delete for good";
    EmptyTrash => "Vider la corbeille", "Empty the trash";
    MessagesChanged => "{count} message(s) modifié(s).", "{count} message(s) changed.";
    SearchLabel => "Rechercher dans vos messages", "Search your messages";
    SearchPlaceholder => "Rechercher (de:, à:, objet:, pj:, non-lu:)", "Search (from:, to:, subject:, has:attachment, is:unread)";
    SearchButton => "Rechercher", "Search";
    SearchTitle => "Recherche", "Search";
    SearchHelp => "Mots du message, et au besoin : de:nom, à:nom, objet:mot, pj: (avec pièce jointe), non-lu:, après:2026-10-01, avant:15/10/2026.", "Words of the message and, if needed: from:name, to:name, subject:word, has:attachment, is:unread, after:2026-10-01, before:15/10/2026.";
    SearchNothing => "Aucun message ne correspond à cette recherche.", "No message matches this search.";
    SearchCount => "{count} message(s) trouvé(s).", "{count} message(s) found.";
    MessageContent => "Contenu du message", "Message content";
    HealthDocument => "Document de santé", "Health document";
    PatientTitle => "Patient", "Patient";
    PatientName => "Nom et prénom", "Name";
    PatientBirth => "Date de naissance", "Date of birth";
    PatientSex => "Sexe", "Sex";
    SexF => "Féminin", "Female";
    SexM => "Masculin", "Male";
    SexU => "Inconnu", "Unknown";
    PatientIns => "INS", "INS";
    PatientOtherId => "Identifiant", "Identifier";
    InsQualified => "identité qualifiée selon l'expéditeur", "identity qualified, as the sender states";
    InsNotQualified => "identité non qualifiée selon l'expéditeur", "identity not qualified, as the sender states";
    InsInvalid => "numéro INS invalide (la clé ne correspond pas) : vérifiez l'identité du patient", "invalid INS number (the key does not match): check the patient's identity";
    InsTest => "INS de test : ce n'est pas un vrai patient", "test INS: not a real patient";
    XdmTitle => "Documents de santé ({count})", "Health documents ({count})";
    XdmKind => "Type", "Type";
    XdmAuthor => "Auteur", "Author";
    XdmPatient => "Patient", "Patient";
    XdmDate => "Date", "Date";
    XdmDownload => "Télécharger le document ({name})", "Download the document ({name})";
    XdmVerified => "Intégrité vérifiée.", "Integrity checked.";
    XdmUnchecked => "Intégrité non vérifiable : le paquet ne donne pas d'empreinte.", "Integrity not checkable: the package gives no fingerprint.";
    XdmMissing => "Le fichier de ce document manque dans le paquet.", "This document's file is missing from the package.";
    XdmMismatch => "Attention : ce fichier ne correspond pas à sa description (taille ou empreinte) ; il a pu être modifié.", "Warning: this file does not match its description (size or fingerprint); it may have been altered.";
    XdmNoDocuments => "Le paquet de documents de santé ne décrit aucun document.", "The health document package describes no document.";
    XdmSeveralPatients => "Attention : les documents de ce message concernent plusieurs patients.", "Warning: the documents of this message are about more than one patient.";
    XdmRefusedUnsafe => "Le paquet de documents de santé (IHE_XDM.zip) n'a pas été ouvert : il présente des caractéristiques dangereuses. Ne l'ouvrez pas ; signalez-le à l'expéditeur.", "The health document package (IHE_XDM.zip) was not opened: it looks dangerous. Do not open it; tell the sender.";
    XdmRefusedDamaged => "Le paquet de documents de santé (IHE_XDM.zip) n'a pas pu être lu : il est endommagé ou incomplet.", "The health document package (IHE_XDM.zip) could not be read: it is damaged or incomplete.";
    XdmRefusedUnsupported => "Le paquet de documents de santé (IHE_XDM.zip) n'a pas pu être lu : il est chiffré ou compressé d'une manière non prise en charge.", "The health document package (IHE_XDM.zip) could not be read: it is encrypted or compressed in a way not supported.";

    // Directory
    NavDirectory => "Annuaire", "Directory";
    DirectoryTitle => "Annuaire des correspondants", "Directory of correspondents";
    DirectoryIntro => "Les professionnels et structures joignables par messagerie sécurisée de santé : les comptes de ce service et l'annuaire national MSSanté. Les personnes inscrites en liste rouge n'y figurent pas.", "Professionals and institutions you can reach by secure health messaging: this service's accounts and the national MSSanté directory. People on the liste rouge (ex-directory) are not listed.";
    DirName => "Nom, prénom ou adresse", "Name or address";
    DirNameHint => "Le début du nom suffit (« mart » trouve Martin et Martineau) ; accents et majuscules indifférents.", "The start of the name is enough (\"mart\" finds Martin and Martineau); accents and capitals do not matter.";
    DirFilters => "Affiner", "Refine";
    DirProfession => "Profession", "Profession";
    DirAnyProfession => "Toutes les professions", "Any profession";
    DirSpecialty => "Spécialité", "Specialty";
    DirPlace => "Ville, code postal ou département", "City, postcode or département";
    DirIdentifier => "Numéro RPPS ou ADELI", "RPPS or ADELI number";
    DirMailboxType => "Type de boîte aux lettres", "Mailbox type";
    DirAnyType => "Tous les types", "Any type";
    DirTypePer => "Personnelle", "Personal";
    DirTypeOrg => "Organisationnelle", "Organisational";
    DirTypeCab => "Cabinet", "Practice";
    DirTypeApp => "Applicative", "Application";
    DirSearchButton => "Rechercher dans l'annuaire", "Search the directory";
    DirResults => "Résultats", "Results";
    DirAskSomething => "Saisissez un nom ou choisissez au moins un critère.", "Type a name or choose at least one criterion.";
    DirNothing => "Aucun correspondant ne correspond à cette recherche.", "No correspondent matches this search.";
    DirShowing => "Résultats {from} à {to}", "Results {from} to {to}";
    DirPages => "Pages de résultats", "Result pages";
    DirPrevPage => "Résultats précédents", "Previous results";
    DirNextPage => "Résultats suivants", "Next results";
    DirWriteTo => "Écrire à {name}", "Write to {name}";
    DirNoPaperShort => "Zéro papier", "Paperless";
    DirAddress => "Adresse de messagerie sécurisée", "Secure mailbox address";
    DirIdentifierShown => "Identifiant", "Identifier";
    DirOrganisation => "Structure", "Institution";
    DirService => "Service", "Department";
    DirPostal => "Adresse", "Address";
    DirPhone => "Téléphone", "Phone";
    DirPaper => "Documents papier", "Paper documents";
    DirNoPaper => "Ne souhaite plus recevoir de documents papier", "No longer wants paper documents";
    DirSource => "Source", "Source";
    DirSourceHygie => "Compte de ce service", "Account on this service";
    DirSourceNational => "Annuaire national MSSanté", "National MSSanté directory";
    DirEntryGone => "Cette fiche n'est pas, ou plus, publiée dans l'annuaire.", "This entry is not, or no longer, published in the directory.";
    DirBack => "Retour à l'annuaire", "Back to the directory";
    DirSuggestions => "Suggestions de l'annuaire", "Directory suggestions";
    DirSuggestHint => "Tapez au moins deux lettres d'un nom pour des suggestions de l'annuaire ; flèches pour choisir, Entrée pour ajouter.", "Type at least two letters of a name for directory suggestions; arrows to choose, Enter to add.";
    // Undo send, scheduled send
    ErrDateTime => "Indiquez une date et une heure valides.", "Enter a valid date and time.";
    ErrPastTime => "Ce moment est déjà passé : choisissez une date et une heure à venir (heure de Paris).", "That time has passed: choose a date and time to come (Paris time).";
    ErrTooFarAhead => "Un envoi se programme au plus un an à l'avance.", "A message can be scheduled at most a year ahead.";
    ErrLeaving => "Ce message est en train de partir : son heure ne peut plus changer.", "This message is leaving now: its time can no longer change.";
    SendingIn => "Envoi dans {secs} s", "Sending in {secs} s";
    UndoSend => "Annuler", "Undo";
    UndoneNotice => "Envoi annulé : le message est de nouveau un brouillon.", "Sending undone: the message is a draft again.";
    UndoTooLate => "Trop tard : le message est déjà parti.", "Too late: the message has left.";
    ScheduleSend => "Programmer l'envoi", "Schedule sending";
    ScheduleDate => "Date", "Date";
    ScheduleTime => "Heure (heure de Paris)", "Time (Paris time)";
    ScheduleConfirm => "Programmer", "Schedule";
    ScheduleWhen => "Date et heure d'envoi", "Date and time of sending";
    ScheduledNotice => "Message programmé.", "Message scheduled.";
    FolderScheduled => "Programmés", "Scheduled";
    ScheduledTitle => "Messages programmés", "Scheduled messages";
    ScheduledEmpty => "Aucun message programmé.", "No scheduled message.";
    ScheduledAt => "Envoi le {when} (heure de Paris)", "Sending on {when} (Paris time)";
    ScheduledTo => "À : {to}", "To: {to}";
    ScheduledNoSubject => "(sans objet)", "(no subject)";
    ScheduledChange => "Changer l'heure", "Change the time";
    ScheduledSave => "Enregistrer l'heure", "Save the time";
    ScheduledEdit => "Modifier", "Edit";
    ScheduledCancel => "Annuler l'envoi", "Cancel sending";
    ScheduledCancelled => "Envoi annulé : le message est dans vos brouillons.", "Sending cancelled: the message is in your drafts.";
    ScheduledMoved => "Heure d'envoi modifiée.", "Sending time changed.";
    ScheduledActions => "Actions pour « {subject} »", "Actions for “{subject}”";
    UndoDelayTitle => "Annulation de l'envoi", "Undo send";
    UndoDelayLabel => "Délai pour annuler un envoi", "Time to undo a send";
    UndoDelayHint => "Pendant ce délai, un message envoyé peut être repris. 0 : il part aussitôt.", "During this time a message sent can be taken back. 0: it leaves at once.";
    UndoDelaySecs => "{secs} s", "{secs} s";
    UndoDelayNone => "Aucun (envoi immédiat)", "None (send at once)";
    UndoDelaySave => "Enregistrer le délai", "Save the delay";
}
