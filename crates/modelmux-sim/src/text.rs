//! Deterministic answer text: a fixed word list where one word is one token, splitting of fixed
//! replies into word-sized pieces that concatenate back to the exact reply, random ids and
//! percent-decoding of path segments.

const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
];

/// `n` generated words as stream pieces: the first bare, the rest with a leading space.
pub(crate) fn generated(n: u32) -> Vec<String> {
    (0..n as usize)
        .map(|i| {
            let w = WORDS[i % WORDS.len()];
            if i == 0 {
                w.to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect()
}

/// Split text into pieces of (leading whitespace + word); concatenated they give `text` back.
pub(crate) fn pieces(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    for c in text.chars() {
        if c.is_whitespace() && in_word {
            out.push(std::mem::take(&mut cur));
            in_word = false;
        } else if !c.is_whitespace() {
            in_word = true;
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        match out.last_mut() {
            Some(last) if !in_word => last.push_str(&cur),
            _ => out.push(cur),
        }
    }
    out
}

/// `n` random ASCII letters and digits.
pub(crate) fn alnum(n: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(n)
        .collect()
}

/// Decode `%XX` escapes (invalid ones are kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_words_are_deterministic() {
        assert_eq!(generated(3), vec!["lorem", " ipsum", " dolor"]);
        assert_eq!(generated(21).len(), 21);
        assert!(generated(0).is_empty());
    }

    #[test]
    fn pieces_concatenate_back() {
        for s in ["Hello there, world", "  two\n\nlines  ", "one", ""] {
            assert_eq!(pieces(s).concat(), s);
        }
        assert_eq!(
            pieces("Hello there  world"),
            vec!["Hello", " there", "  world"]
        );
        assert_eq!(pieces("a b ").len(), 2);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("anthropic.claude-v2%3A1"),
            "anthropic.claude-v2:1"
        );
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
    }
}
