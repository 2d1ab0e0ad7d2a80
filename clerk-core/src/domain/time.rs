//! Points in time as whole seconds, and the textual forms shops export.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A point in time: whole seconds since 1970-01-01 00:00:00.
///
/// Shops export local times without a zone as often as UTC times; clerk keeps whatever the feed says as a
/// plain count of seconds and never converts zones, so the order of events and the gaps between them stay right.
/// In JSON it is a string `YYYY-MM-DD HH:MM:SS` (RFC 3339 forms with `T`, fractions and offsets are accepted on
/// input; the offset is applied) or a number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// Why a text is not a time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a time: {reason} (expected YYYY-MM-DD[ HH:MM:SS], RFC 3339 or seconds since 1970)")]
pub struct ParseTimeError {
    /// What was wrong.
    pub reason: &'static str,
}

impl Timestamp {
    /// The earliest time clerk accepts: 1900-01-01.
    pub const MIN: Timestamp = Timestamp(-2_208_988_800);
    /// The latest time clerk accepts: 9999-12-31 23:59:59.
    pub const MAX: Timestamp = Timestamp(253_402_300_799);

    /// The time at `secs` seconds since 1970.
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since 1970.
    pub const fn secs(self) -> i64 {
        self.0
    }

    /// Days (possibly fractional) from `self` to `later`.
    pub fn days_until(self, later: Timestamp) -> f64 {
        (later.0 - self.0) as f64 / DAY as f64
    }

    /// The time of a calendar date and clock time; `None` when a field is out of range.
    pub fn from_parts(year: i64, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> Option<Self> {
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || min > 59
            || sec > 60
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let t = Timestamp(days * DAY + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec));
        (Self::MIN..=Self::MAX).contains(&t).then_some(t)
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`, the RFC 3339 forms (`T` separator, fractional seconds, `Z` or
    /// `+HH:MM`) or a plain integer of seconds since 1970.
    pub fn parse(text: &str) -> Result<Self, ParseTimeError> {
        let s = text.trim();
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(ParseTimeError { reason: "empty" });
        }
        if b.len() < 10 || b[4] != b'-' {
            let secs: i64 = s.parse().map_err(|_| ParseTimeError { reason: "unknown format" })?;
            let t = Timestamp(secs);
            return if (Self::MIN..=Self::MAX).contains(&t) {
                Ok(t)
            } else {
                Err(ParseTimeError { reason: "out of range" })
            };
        }
        let num = |from: usize, to: usize| -> Result<u32, ParseTimeError> {
            let part = b.get(from..to).ok_or(ParseTimeError { reason: "truncated" })?;
            let mut v = 0u32;
            for &c in part {
                if !c.is_ascii_digit() {
                    return Err(ParseTimeError { reason: "digit expected" });
                }
                v = v * 10 + u32::from(c - b'0');
            }
            Ok(v)
        };
        if b[7] != b'-' {
            return Err(ParseTimeError { reason: "'-' expected after the month" });
        }
        let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (mut hour, mut min, mut sec, mut offset) = (0, 0, 0, 0i64);
        if b.len() > 10 {
            if b[10] != b' ' && b[10] != b'T' && b[10] != b't' {
                return Err(ParseTimeError { reason: "' ' or 'T' expected after the date" });
            }
            if b.get(13) != Some(&b':') {
                return Err(ParseTimeError { reason: "':' expected after the hour" });
            }
            hour = num(11, 13)?;
            min = num(14, 16)?;
            let mut rest = 16;
            if b.get(16) == Some(&b':') {
                sec = num(17, 19)?;
                rest = 19;
            }
            if b.get(rest) == Some(&b'.') {
                rest += 1;
                while b.get(rest).is_some_and(u8::is_ascii_digit) {
                    rest += 1;
                }
            }
            match b.get(rest) {
                None => {}
                Some(b'Z' | b'z') if rest + 1 == b.len() => {}
                Some(&sign @ (b'+' | b'-')) if b.len() == rest + 6 && b[rest + 3] == b':' => {
                    let secs = i64::from(num(rest + 1, rest + 3)?) * 3600 + i64::from(num(rest + 4, rest + 6)?) * 60;
                    offset = if sign == b'+' { secs } else { -secs };
                }
                Some(_) => return Err(ParseTimeError { reason: "unexpected text after the time" }),
            }
        }
        let t = Self::from_parts(i64::from(year), month, day, hour, min, sec)
            .ok_or(ParseTimeError { reason: "field out of range" })?;
        Ok(Timestamp(t.0 - offset))
    }

    /// The calendar parts `(year, month, day, hour, minute, second)`.
    pub fn parts(self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.0.div_euclid(DAY);
        let secs = self.0.rem_euclid(DAY);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, (secs / 3600) as u32, (secs / 60 % 60) as u32, (secs % 60) as u32)
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DD HH:MM:SS`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s) = self.parts();
        write!(f, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = ParseTimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time as 'YYYY-MM-DD HH:MM:SS', RFC 3339 or seconds since 1970")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                let t = Timestamp(v);
                if (Timestamp::MIN..=Timestamp::MAX).contains(&t) {
                    Ok(t)
                } else {
                    Err(E::custom("time out of range"))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v).map_err(|_| E::custom("time out of range")).and_then(|v| self.visit_i64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                if v.is_finite() && v.abs() < 1e15 {
                    self.visit_i64(v as i64)
                } else {
                    Err(E::custom("time out of range"))
                }
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(Visitor)
        } else {
            deserializer.deserialize_i64(Visitor)
        }
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_common_forms() {
        let t = Timestamp::parse("2017-12-04 00:00:00").unwrap();
        assert_eq!(t.secs(), 1_512_345_600);
        assert_eq!(Timestamp::parse("2017-12-04").unwrap(), t);
        assert_eq!(Timestamp::parse("2017-12-04T01:00:00+01:00").unwrap(), t);
        assert_eq!(Timestamp::parse("2017-12-04T00:00:00.250Z").unwrap(), t);
        assert_eq!(Timestamp::parse("1512345600").unwrap(), t);
        assert_eq!(t.to_string(), "2017-12-04 00:00:00");
    }

    #[test]
    fn rejects_bad_text() {
        for bad in
            ["", "2017-13-01", "2017-02-30 00:00:00", "2017-12-04 24:00:00", "2017-12-04X", "yesterday", "2017/12/04"]
        {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn display_round_trips(secs in Timestamp::MIN.0..=Timestamp::MAX.0) {
            let t = Timestamp(secs);
            prop_assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        }
    }
}
