//! Field transformers: `tolower`, `toupper`, `b64`, `basename`, `len`.

use super::Cv;
use crate::source::Value;

/// A transformer applied to a field's values before comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transform {
    ToLower,
    ToUpper,
    /// Base64-decode (values that are not valid base64 are dropped).
    B64,
    /// The part after the last `/`.
    Basename,
    /// The length in bytes, as a number.
    Len,
}

impl Transform {
    pub fn name(self) -> &'static str {
        match self {
            Transform::ToLower => "tolower",
            Transform::ToUpper => "toupper",
            Transform::B64 => "b64",
            Transform::Basename => "basename",
            Transform::Len => "len",
        }
    }

    pub fn from_name(s: &str) -> Option<Transform> {
        Some(match s {
            "tolower" => Transform::ToLower,
            "toupper" => Transform::ToUpper,
            "b64" => Transform::B64,
            "basename" => Transform::Basename,
            "len" => Transform::Len,
            _ => return None,
        })
    }
}

/// Apply `ts` (innermost first) to `v`, using `a` and `b` as scratch. `None` when a transformer
/// rejects the value (bad base64, a non-string input).
pub(crate) fn apply<'s>(
    ts: &[Transform],
    v: Value<'_>,
    a: &'s mut Vec<u8>,
    b: &'s mut Vec<u8>,
) -> Option<Cv<'s>> {
    let Value::Str(s) = v else {
        return None;
    };
    a.clear();
    a.extend_from_slice(s);
    let mut len: Option<i128> = None;
    for t in ts {
        if len.is_some() {
            return None;
        }
        match t {
            Transform::ToLower => a.make_ascii_lowercase(),
            Transform::ToUpper => a.make_ascii_uppercase(),
            Transform::Basename => {
                if let Some(i) = a.iter().rposition(|c| *c == b'/') {
                    a.drain(..=i);
                }
            }
            Transform::B64 => {
                b.clear();
                if !b64_decode(a, b) {
                    return None;
                }
                std::mem::swap(a, b);
            }
            Transform::Len => len = Some(a.len() as i128),
        }
    }
    Some(match len {
        Some(n) => Cv::Num(n),
        None => Cv::Str(a),
    })
}

fn b64_val(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    })
}

/// Decode standard (or URL-safe) base64, padding optional. False on invalid input.
pub(crate) fn b64_decode(input: &[u8], out: &mut Vec<u8>) -> bool {
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut pad = 0;
    for &c in input {
        if c == b'=' {
            pad += 1;
            continue;
        }
        if pad > 0 {
            return false;
        }
        let Some(v) = b64_val(c) else { return false };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    pad <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        let mut out = Vec::new();
        assert!(b64_decode(b"aGVsbG8gd29ybGQ=", &mut out));
        assert_eq!(out, b"hello world");
        out.clear();
        assert!(b64_decode(b"Y2F0IC9ldGMvcGFzc3dk", &mut out));
        assert_eq!(out, b"cat /etc/passwd");
        out.clear();
        assert!(!b64_decode(b"not base64!", &mut out));
    }

    #[test]
    fn chains_transformers() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let r = apply(
            &[Transform::Basename, Transform::ToUpper],
            Value::Str(b"/usr/bin/Bash"),
            &mut a,
            &mut b,
        );
        assert!(matches!(r, Some(Cv::Str(b"BASH"))));
        let r = apply(&[Transform::Len], Value::Str(b"abcd"), &mut a, &mut b);
        assert!(matches!(r, Some(Cv::Num(4))));
        assert!(apply(&[Transform::ToLower], Value::U64(3), &mut a, &mut b).is_none());
    }
}
