//! Dates for the `Date*` condition operators: ISO 8601 or epoch seconds, as
//! nanoseconds since the Unix epoch.

const NANOS: i128 = 1_000_000_000;

/// Parses an ISO 8601 date or date-time, or (possibly fractional) epoch
/// seconds, into nanoseconds since 1970-01-01T00:00:00Z.
///
/// Accepted: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS`, with
/// optional fractional seconds (`.` or `,`) and an optional zone (`Z`,
/// `±HH`, `±HHMM`, `±HH:MM`; none means UTC); `T` may be `t` or a space.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if let Some(epoch) = parse_epoch(s) {
        return Some(epoch);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let year = digits(b, &mut i, 4)?;
    expect(b, &mut i, b'-')?;
    let month = digits(b, &mut i, 2)?;
    expect(b, &mut i, b'-')?;
    let day = digits(b, &mut i, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut nanos = i128::from(days_from_civil(year, month, day)) * 86_400 * NANOS;
    if i == b.len() {
        return Some(nanos);
    }
    if !matches!(b[i], b'T' | b't' | b' ') {
        return None;
    }
    i += 1;
    let hour = digits(b, &mut i, 2)?;
    expect(b, &mut i, b':')?;
    let minute = digits(b, &mut i, 2)?;
    let mut second = 0;
    if b.get(i) == Some(&b':') {
        i += 1;
        second = digits(b, &mut i, 2)?;
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            let mut frac: i128 = 0;
            let mut scale = NANOS;
            while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                if scale > 1 {
                    scale /= 10;
                    frac += i128::from(d - b'0') * scale;
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            nanos += frac;
        }
    }
    // 24:00:00 is the end of the day; 60 seconds allows a leap second.
    let time_ok =
        (hour < 24 && minute < 60 && second <= 60) || (hour == 24 && minute == 0 && second == 0);
    if !time_ok {
        return None;
    }
    nanos += i128::from(hour * 3600 + minute * 60 + second) * NANOS;
    match b.get(i) {
        None => {}
        Some(b'Z' | b'z') => i += 1,
        Some(&sign @ (b'+' | b'-')) => {
            i += 1;
            let oh = digits(b, &mut i, 2)?;
            let mut om = 0;
            if b.get(i) == Some(&b':') {
                i += 1;
                om = digits(b, &mut i, 2)?;
            } else if i < b.len() {
                om = digits(b, &mut i, 2)?;
            }
            if oh > 23 || om > 59 {
                return None;
            }
            let offset = i128::from(oh * 3600 + om * 60) * NANOS;
            // Local time = UTC + offset, so UTC = local - offset.
            nanos = if sign == b'+' {
                nanos - offset
            } else {
                nanos + offset
            };
        }
        Some(_) => return None,
    }
    (i == b.len()).then_some(nanos)
}

/// `-?digits(.digits)?` seconds since the epoch.
fn parse_epoch(s: &str) -> Option<i128> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = match body.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (body, None),
    };
    if int.is_empty() || int.len() > 18 || !int.bytes().all(|d| d.is_ascii_digit()) {
        return None;
    }
    let mut nanos = int.parse::<i128>().ok()? * NANOS;
    if let Some(frac) = frac {
        if frac.is_empty() || !frac.bytes().all(|d| d.is_ascii_digit()) {
            return None;
        }
        let mut scale = NANOS;
        for d in frac.bytes().take(9) {
            scale /= 10;
            nanos += i128::from(d - b'0') * scale;
        }
    }
    Some(if negative { -nanos } else { nanos })
}

fn digits(b: &[u8], i: &mut usize, n: usize) -> Option<i64> {
    let chunk = b.get(*i..*i + n)?;
    if !chunk.iter().all(u8::is_ascii_digit) {
        return None;
    }
    *i += n;
    Some(
        chunk
            .iter()
            .fold(0, |acc, d| acc * 10 + i64::from(d - b'0')),
    )
}

fn expect(b: &[u8], i: &mut usize, c: u8) -> Option<()> {
    (b.get(*i) == Some(&c)).then(|| *i += 1)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("0"), Some(0));
        assert_eq!(
            parse_date("2020-02-29T12:00:00Z"),
            Some(1_582_977_600 * NANOS)
        );
        assert_eq!(parse_date("1582977600"), Some(1_582_977_600 * NANOS));
        assert_eq!(
            parse_date("2020-02-29T13:00:00+01:00"),
            Some(1_582_977_600 * NANOS)
        );
        assert_eq!(
            parse_date("2020-02-29T11:00:00-0100"),
            Some(1_582_977_600 * NANOS)
        );
        assert_eq!(parse_date("2020-02-29T12:00Z"), Some(1_582_977_600 * NANOS));
        assert_eq!(
            parse_date("2020-02-29t12:00:00.5z"),
            Some(1_582_977_600 * NANOS + NANOS / 2)
        );
        assert_eq!(
            parse_date("1582977600.25"),
            Some(1_582_977_600 * NANOS + NANOS / 4)
        );
        assert_eq!(parse_date("-86400"), parse_date("1969-12-31"));
        assert_eq!(parse_date("2000-01-01T24:00:00Z"), parse_date("2000-01-02"));
        for bad in [
            "",
            "2019-02-29",
            "2020-13-01",
            "2020-00-10",
            "2020-01-32",
            "2020-01-01T25:00:00Z",
            "2020-01-01T10:61Z",
            "2020-01-01T10:00:00.Z",
            "2020-01-01X",
            "2020-1-1",
            "yesterday",
            "1.",
            "--1",
            "2020-01-01T10:00:00+2",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
