//! What a new password must be: at least 12 characters after Unicode normalisation (NFKC), at
//! most 1024, not a common password nor built on the account's own address. No composition
//! rules, nothing truncated.

use secrecy::SecretString;
use unicode_normalization::UnicodeNormalization;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooLong,
    /// A common password, a keyboard or digit sequence, or a repeated character.
    Common,
    /// Built on the account's own name or address.
    Personal,
}

/// Normalises (NFKC) and checks a password someone chose. `personal` holds words it must not be
/// built on (the local part of the address, names). Returns the normalised password to hash.
pub fn check_new(password: &str, personal: &[&str]) -> Result<SecretString, PasswordProblem> {
    let normalised = normalise(password);
    let chars = normalised.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    let core = skeleton(&normalised);
    if core.is_empty() || is_common(&core) || is_sequence(&core) || distinct_chars(&normalised) < 4 {
        return Err(PasswordProblem::Common);
    }
    for word in personal {
        let w = skeleton(&normalise(word));
        if w.chars().count() >= 3 && (core == w || is_repetition_of(&core, &w)) {
            return Err(PasswordProblem::Personal);
        }
    }
    Ok(SecretString::from(normalised))
}

/// The form a password is hashed and verified in.
pub fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

/// Lower case, accents dropped, "leet" digits read as letters, spaces and separators removed,
/// then digits and symbols trimmed from both ends: what remains is the guessable part.
fn skeleton(s: &str) -> String {
    let lowered: String = s
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| !matches!(c, ' ' | '-' | '_' | '.' | '\''))
        .collect();
    let trimmed = lowered.trim_matches(|c: char| !c.is_alphabetic());
    if trimmed.is_empty() {
        // Only digits and symbols: judge the whole thing.
        return lowered;
    }
    trimmed
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            _ => c,
        })
        .collect()
}

fn common_words() -> &'static Vec<String> {
    static WORDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| {
        include_str!("common_passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(skeleton)
            .collect()
    })
}

fn is_common(core: &str) -> bool {
    common_words().iter().any(|w| core == w || is_repetition_of(core, w) || is_pair_of_common(core, w))
}

/// "motdepassemotdepasse", "azertyazerty".
fn is_repetition_of(core: &str, word: &str) -> bool {
    !word.is_empty()
        && core.len() % word.len() == 0
        && core.len() > word.len()
        && core == word.repeat(core.len() / word.len())
}

/// Two common words glued together ("bonjourmarseille", "iloveyoujetaime").
fn is_pair_of_common(core: &str, first: &str) -> bool {
    core.strip_prefix(first).is_some_and(|rest| !rest.is_empty() && common_words().iter().any(|w| w == rest))
}

/// Runs along the digits, the alphabet or a keyboard row, forwards or backwards.
fn is_sequence(core: &str) -> bool {
    const RUNS: [&str; 6] = [
        "01234567890123456789",
        "abcdefghijklmnopqrstuvwxyz",
        "azertyuiopqsdfghjklmwxcvbn",
        "qwertyuiopasdfghjklzxcvbnm",
        "1234567890azertyuiop",
        "1234567890qwertyuiop",
    ];
    let rev: String = core.chars().rev().collect();
    core.chars().count() >= 4 && RUNS.iter().any(|run| run.contains(core) || run.contains(rev.as_str()))
}

fn distinct_chars(s: &str) -> usize {
    let mut seen: Vec<char> = s.chars().collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn length_counts_characters_after_nfkc() {
        assert_eq!(check_new("court-Mais!", &[]).unwrap_err(), PasswordProblem::TooShort);
        // 12 characters, some of them multi-byte.
        assert!(check_new("été à Cayenne", &[]).is_ok());
        // A fullwidth "Ａ" becomes "A" and a ligature "ﬁ" becomes "fi" under NFKC.
        let n = check_new("ﬁcelle Ａrdoise 9", &[]).unwrap();
        assert_eq!(n.expose_secret(), "ficelle Ardoise 9");
        let long: String = (0..150).map(|i| format!("mot{i} ")).collect();
        assert!(long.chars().count() > 128);
        assert!(check_new(&long, &[]).is_ok(), "long passphrases are welcome");
        assert_eq!(check_new(&"xy7".repeat(400), &[]).unwrap_err(), PasswordProblem::TooLong);
    }

    #[test]
    fn common_passwords_and_sequences_are_refused() {
        for pw in [
            "motdepasse123",
            "MotDePasse2024!",
            "P@ssw0rd12345",
            "azertyuiop123",
            "123456789012",
            "qwertyuiopas",
            "aaaaaaaaaaaa",
            "jetaime-jetaime",
            "!!Bonjour2026!!",
            "hygie-santé-2026",
            "soleilchocolat1",
            "zyxwvutsrqpo",
            "1111122222111",
        ] {
            assert_eq!(check_new(pw, &[]).unwrap_err(), PasswordProblem::Common, "{pw}");
        }
    }

    #[test]
    fn personal_words_are_refused_and_good_passwords_pass() {
        assert_eq!(check_new("jean.dupont1234", &["jean.dupont", "Dupont"]).unwrap_err(), PasswordProblem::Personal);
        assert_eq!(check_new("Dupont-Dupont-", &["dupont"]).unwrap_err(), PasswordProblem::Personal);
        for pw in ["cheval agrafe correct", "Le chat de Mme Michu dort", "tulipe-ornithorynque-41", "x8#Lq2!mZ0rT"] {
            assert!(check_new(pw, &["jean.dupont"]).is_ok(), "{pw}");
        }
    }
}
