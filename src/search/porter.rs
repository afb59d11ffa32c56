//! The Porter (1980) stemmer for lowercase ASCII English words.
//!
//! Titles use verbs and gerunds (`Aligning`, `Scaling`, `Evaluating`) where summaries name the
//! same idea as a noun (`alignment`, `scale`, `evaluation`); stemming both sides to `align`,
//! `scale`, `evalu` lets them meet. Words that are not all lowercase ASCII letters, or shorter
//! than three letters, are returned unchanged.

/// Whether `w[i]` is a consonant (`y` is one at the start and after a vowel).
fn cons(w: &[u8], i: usize) -> bool {
    match w[i] {
        b'a' | b'e' | b'i' | b'o' | b'u' => false,
        b'y' => i == 0 || !cons(w, i - 1),
        _ => true,
    }
}

/// Porter's measure `m` of `w`: the number of vowel-consonant sequences.
fn measure(w: &[u8]) -> usize {
    let mut m = 0;
    let mut i = 0;
    let n = w.len();
    while i < n && cons(w, i) {
        i += 1;
    }
    loop {
        while i < n && !cons(w, i) {
            i += 1;
        }
        if i >= n {
            return m;
        }
        while i < n && cons(w, i) {
            i += 1;
        }
        m += 1;
    }
}

/// Whether `w` contains a vowel.
fn has_vowel(w: &[u8]) -> bool {
    (0..w.len()).any(|i| !cons(w, i))
}

/// Whether `w` ends with a double consonant.
fn double_cons(w: &[u8]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && cons(w, n - 1)
}

/// Whether `w` ends consonant-vowel-consonant, the last not `w`, `x` or `y`.
fn cvc(w: &[u8]) -> bool {
    let n = w.len();
    n >= 3
        && cons(w, n - 3)
        && !cons(w, n - 2)
        && cons(w, n - 1)
        && !matches!(w[n - 1], b'w' | b'x' | b'y')
}

/// Replaces suffix `from` by `to` when the remaining stem satisfies `cond`; true if `from`
/// matched (whether or not it was replaced), so rule lists stop at the first matching suffix.
fn rule(w: &mut Vec<u8>, from: &str, to: &str, cond: impl Fn(&[u8]) -> bool) -> bool {
    if !w.ends_with(from.as_bytes()) {
        return false;
    }
    let stem_len = w.len() - from.len();
    if cond(&w[..stem_len]) {
        w.truncate(stem_len);
        w.extend_from_slice(to.as_bytes());
    }
    true
}

fn step1(w: &mut Vec<u8>) {
    // 1a
    let _ = rule(w, "sses", "ss", |_| true)
        || rule(w, "ies", "i", |_| true)
        || rule(w, "ss", "ss", |_| true)
        || rule(w, "s", "", |_| true);
    // 1b
    if w.ends_with(b"eed") {
        rule(w, "eed", "ee", |s| measure(s) > 0);
    } else {
        let mut stripped = false;
        for suf in ["ed", "ing"] {
            if w.ends_with(suf.as_bytes()) && has_vowel(&w[..w.len() - suf.len()]) {
                w.truncate(w.len() - suf.len());
                stripped = true;
                break;
            }
        }
        if stripped {
            if w.ends_with(b"at") || w.ends_with(b"bl") || w.ends_with(b"iz") {
                w.push(b'e');
            } else if double_cons(w) && !matches!(w.last(), Some(b'l' | b's' | b'z')) {
                w.pop();
            } else if measure(w) == 1 && cvc(w) {
                w.push(b'e');
            }
        }
    }
    // 1c
    if w.ends_with(b"y") && has_vowel(&w[..w.len() - 1]) {
        w.pop();
        w.push(b'i');
    }
}

const STEP2: &[(&str, &str)] = &[
    ("ational", "ate"),
    ("tional", "tion"),
    ("enci", "ence"),
    ("anci", "ance"),
    ("izer", "ize"),
    ("abli", "able"),
    ("alli", "al"),
    ("entli", "ent"),
    ("eli", "e"),
    ("ousli", "ous"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("alism", "al"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("aliti", "al"),
    ("iviti", "ive"),
    ("biliti", "ble"),
];

const STEP3: &[(&str, &str)] = &[
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
];

const STEP4: &[&str] = &[
    "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
    "ism", "ate", "iti", "ous", "ive", "ize",
];

/// Applies the first rule of `rules` whose suffix matches (longest suffixes are listed so that
/// they are tried before their tails).
fn apply_longest(w: &mut Vec<u8>, rules: &[(&str, &str)], min_m: usize) {
    let best = rules
        .iter()
        .filter(|(from, _)| w.ends_with(from.as_bytes()))
        .max_by_key(|(from, _)| from.len());
    if let Some((from, to)) = best {
        rule(w, from, to, |s| measure(s) > min_m);
    }
}

fn step4(w: &mut Vec<u8>) {
    let best = STEP4
        .iter()
        .filter(|suf| w.ends_with(suf.as_bytes()))
        .max_by_key(|suf| suf.len());
    if let Some(suf) = best {
        let stem = &w[..w.len() - suf.len()];
        let ok = measure(stem) > 1
            && (*suf != "ion" || matches!(stem.last(), Some(b's' | b't')));
        if ok {
            w.truncate(w.len() - suf.len());
        }
    }
}

fn step5(w: &mut Vec<u8>) {
    if w.ends_with(b"e") {
        let stem = &w[..w.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !cvc(stem)) {
            w.pop();
        }
    }
    if measure(w) > 1 && double_cons(w) && w.ends_with(b"l") {
        w.pop();
    }
}

/// The Porter stem of `word`.
pub fn stem(word: &str) -> String {
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word.to_string();
    }
    let mut w = word.as_bytes().to_vec();
    step1(&mut w);
    apply_longest(&mut w, STEP2, 0);
    apply_longest(&mut w, STEP3, 0);
    step4(&mut w);
    step5(&mut w);
    // Only ASCII letters were touched, so this cannot fail; fall back to the word itself.
    String::from_utf8(w).unwrap_or_else(|_| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn porter_examples() {
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("cats", "cat"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("conflated", "conflat"),
            ("hopping", "hop"),
            ("filing", "file"),
            ("happy", "happi"),
            ("relational", "relat"),
            ("generalization", "gener"),
            ("triplicate", "triplic"),
            ("adjustment", "adjust"),
            ("adoption", "adopt"),
            ("controll", "control"),
        ] {
            assert_eq!(stem(w), s, "{w}");
        }
        // Variants in titles and summaries meet.
        for group in [
            ["align", "aligning", "alignment"],
            ["generate", "generating", "generation"],
            ["evaluate", "evaluating", "evaluation"],
            ["scale", "scaling", "scaled"],
        ] {
            assert!(group.iter().all(|w| stem(w) == stem(group[0])), "{group:?}");
        }
        assert_eq!(stem("gpt-4o"), "gpt-4o");
        assert_eq!(stem("llm"), "llm");
    }
}
