//! Glob matching as Falco's `glob` operator (fnmatch without flags): `*` matches any sequence
//! (including `/`), `?` one byte, `[abc]`/`[a-z]`/`[!x]`/`[^x]` a class, `\x` a literal.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(u8),
    Any,
    Star,
    Class { negate: bool, ranges: Vec<(u8, u8)> },
}

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    toks: Vec<Tok>,
    case_insensitive: bool,
}

impl Glob {
    pub fn new(pattern: &[u8], case_insensitive: bool) -> Glob {
        let fold = |c: u8| {
            if case_insensitive {
                c.to_ascii_lowercase()
            } else {
                c
            }
        };
        let mut toks = Vec::new();
        let mut i = 0;
        while i < pattern.len() {
            let c = pattern[i];
            match c {
                b'*' => {
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                    i += 1;
                }
                b'?' => {
                    toks.push(Tok::Any);
                    i += 1;
                }
                b'\\' if i + 1 < pattern.len() => {
                    toks.push(Tok::Lit(fold(pattern[i + 1])));
                    i += 2;
                }
                b'[' => match parse_class(pattern, i + 1, &fold) {
                    Some((tok, next)) => {
                        toks.push(tok);
                        i = next;
                    }
                    None => {
                        toks.push(Tok::Lit(b'['));
                        i += 1;
                    }
                },
                _ => {
                    toks.push(Tok::Lit(fold(c)));
                    i += 1;
                }
            }
        }
        Glob {
            toks,
            case_insensitive,
        }
    }

    pub fn matches(&self, s: &[u8]) -> bool {
        let ci = self.case_insensitive;
        let one = |t: &Tok, c: u8| -> bool {
            let c = if ci { c.to_ascii_lowercase() } else { c };
            match t {
                Tok::Lit(l) => *l == c,
                Tok::Any => true,
                Tok::Class { negate, ranges } => {
                    ranges.iter().any(|(a, b)| (*a..=*b).contains(&c)) != *negate
                }
                Tok::Star => unreachable!("stars are handled by the matcher"),
            }
        };
        // Classic iterative matcher with one backtrack point per star.
        let (mut p, mut i) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while i < s.len() {
            if p < self.toks.len() {
                if self.toks[p] == Tok::Star {
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                if one(&self.toks[p], s[i]) {
                    p += 1;
                    i += 1;
                    continue;
                }
            }
            match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            }
        }
        self.toks[p..].iter().all(|t| *t == Tok::Star)
    }
}

fn parse_class(pat: &[u8], mut i: usize, fold: &dyn Fn(u8) -> u8) -> Option<(Tok, usize)> {
    let mut negate = false;
    if i < pat.len() && (pat[i] == b'!' || pat[i] == b'^') {
        negate = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < pat.len() {
        let c = pat[i];
        if c == b']' && !first {
            return Some((Tok::Class { negate, ranges }, i + 1));
        }
        first = false;
        let lo = if c == b'\\' && i + 1 < pat.len() {
            i += 1;
            pat[i]
        } else {
            c
        };
        if i + 2 < pat.len() && pat[i + 1] == b'-' && pat[i + 2] != b']' {
            let hi = pat[i + 2];
            ranges.push((fold(lo).min(fold(hi)), fold(lo).max(fold(hi))));
            i += 3;
        } else {
            ranges.push((fold(lo), fold(lo)));
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p.as_bytes(), false).matches(s.as_bytes())
    }

    #[test]
    fn globs_like_fnmatch() {
        assert!(m("/home/*/.ssh/*", "/home/alice/.ssh/id_rsa"));
        assert!(m("*../*../*", "/var/www/../../etc/passwd"));
        assert!(!m("*../*../*", "/var/www/../etc/passwd"));
        assert!(m("*", ""));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[!a-c]x", "bx"));
        assert!(m("[]]", "]"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("*.txt", "/a/b/c.txt"));
        assert!(!m("*.txt", "/a/b/c.txt.bak"));
        assert!(m("[", "["));
        assert!(Glob::new(b"*.TXT", true).matches(b"a.txt"));
        assert!(m("a*b*c", "aXbYbZc"));
    }
}
