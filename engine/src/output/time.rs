//! Timestamps as Falco prints them (UTC: the engine has no time zone database).

use std::fmt::Write;

use crate::fields::Field;

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Write an absolute time (ns since the epoch) in the format of `field`.
pub(crate) fn write_abstime(field: Field, ns: u64, out: &mut String) {
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = ns % 1_000_000_000;
    let (h, mi, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let _ = match field {
        Field::EvtTime => write!(out, "{h:02}:{mi:02}:{s:02}.{nanos:09}"),
        Field::EvtTimeS => write!(out, "{h:02}:{mi:02}:{s:02}"),
        Field::EvtTimeIso8601 => write!(
            out,
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{nanos:09}+0000"
        ),
        Field::EvtDatetime => write!(
            out,
            "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{nanos:09}"
        ),
        Field::EvtDatetimeS => write!(out, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
        _ => write!(out, "{ns}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_falco() {
        // 2024-03-05 07:08:09.000000123 UTC
        let ns = 1_709_622_489_000_000_123u64;
        let f = |field| {
            let mut s = String::new();
            write_abstime(field, ns, &mut s);
            s
        };
        assert_eq!(f(Field::EvtTime), "07:08:09.000000123");
        assert_eq!(f(Field::EvtTimeS), "07:08:09");
        assert_eq!(
            f(Field::EvtTimeIso8601),
            "2024-03-05T07:08:09.000000123+0000"
        );
        assert_eq!(f(Field::EvtDatetime), "2024-03-05 07:08:09.000000123");
        assert_eq!(f(Field::EvtRawtime), "1709622489000000123");
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
    }
}
