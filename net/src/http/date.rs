//! The `Date` header, formatted once per second and read by every response without a lock.
//!
//! A server's ticker (see `server.rs`) calls [`DateCell::refresh`] at least twice a second;
//! responses copy the 29 bytes out with [`DateCell::get`]. The cell is a sequence lock over
//! four atomic words: the single writer makes the sequence odd, stores the words, and makes
//! it even again; a reader retries if it saw an odd sequence or a change across its loads.
//! Everything is a safe atomic, so a torn read is impossible to observe, not just unlikely.
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) const DATE_LEN: usize = 29;

/// The current `Date` value, shared by every connection of a server.
pub(crate) struct DateCell {
    seq: AtomicU64,
    words: [AtomicU64; 4],
    secs: AtomicU64,
}

impl DateCell {
    pub(crate) fn new() -> DateCell {
        let c = DateCell {
            seq: AtomicU64::new(0),
            words: Default::default(),
            secs: AtomicU64::new(u64::MAX),
        };
        c.refresh();
        c
    }

    /// Re-formats the date if the second changed. Only one thread calls this (the ticker).
    pub(crate) fn refresh(&self) {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.secs.load(Ordering::Relaxed) == secs {
            return;
        }
        self.secs.store(secs, Ordering::Relaxed);
        let mut bytes = [0u8; 32];
        bytes[..DATE_LEN].copy_from_slice(&format(secs));
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s + 1, Ordering::Relaxed);
        // Release fence: the odd sequence is visible before any new word (pairs with the
        // reader's Acquire fence before its second sequence load).
        fence(Ordering::Release);
        for (w, chunk) in self.words.iter().zip(bytes.chunks_exact(8)) {
            let v = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
            w.store(v, Ordering::Relaxed);
        }
        // Release: the words are visible before the even sequence (pairs with the reader's
        // Acquire load of the first sequence).
        self.seq.store(s + 2, Ordering::Release);
    }

    /// The current date bytes.
    pub(crate) fn get(&self) -> [u8; DATE_LEN] {
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            let mut bytes = [0u8; 32];
            for (w, chunk) in self.words.iter().zip(bytes.chunks_exact_mut(8)) {
                chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
            }
            fence(Ordering::Acquire);
            if s1 & 1 == 0 && self.seq.load(Ordering::Relaxed) == s1 {
                let mut out = [0u8; DATE_LEN];
                out.copy_from_slice(&bytes[..DATE_LEN]);
                return out;
            }
            std::hint::spin_loop();
        }
    }
}

/// Formats seconds since the Unix epoch as an IMF-fixdate (RFC 9110 §5.6.7).
pub(crate) fn format(secs: u64) -> [u8; DATE_LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil(days);
    let mut o = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    o[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two(&mut o[5..7], d);
    o[8..11].copy_from_slice(MONTHS[(m - 1) as usize]);
    let y = y.min(9999);
    two(&mut o[12..14], y / 100);
    two(&mut o[14..16], y % 100);
    two(&mut o[17..19], rem / 3600);
    two(&mut o[20..22], rem / 60 % 60);
    two(&mut o[23..25], rem % 60);
    o
}

/// Parses an HTTP date into seconds since the Unix epoch: an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), or one of the two obsolete forms every recipient must
/// still accept (RFC 9110 §5.6.7), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
/// (`Sun Nov  6 08:49:37 1994`), as Go's `http.ParseTime` does. `None` for anything else,
/// including dates before 1970.
pub(crate) fn parse(s: &str) -> Option<u64> {
    let s = s.trim_ascii();
    let (day, month, year, time) = if let Some((_, rest)) = s.split_once(", ") {
        if let Some(rest) = rest.strip_suffix(" GMT") {
            match rest.split(' ').collect::<Vec<_>>()[..] {
                // IMF-fixdate: "06 Nov 1994 08:49:37"
                [d, m, y, t] if d.len() == 2 && y.len() == 4 => (d, m, number(y)?, t),
                // RFC 850: "06-Nov-94 08:49:37" (two-digit years: 1970-2069)
                [dmy, t] => match dmy.split('-').collect::<Vec<_>>()[..] {
                    [d, m, y] if d.len() == 2 && y.len() == 2 => {
                        let y = number(y)?;
                        (d, m, if y < 70 { 2000 + y } else { 1900 + y }, t)
                    }
                    _ => return None,
                },
                _ => return None,
            }
        } else {
            return None;
        }
    } else {
        // asctime: "Sun Nov  6 08:49:37 1994" (a one-digit day is padded with a space)
        match s.split_ascii_whitespace().collect::<Vec<_>>()[..] {
            [_, m, d, t, y] if (1..=2).contains(&d.len()) && y.len() == 4 => (d, m, number(y)?, t),
            _ => return None,
        }
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|&m| m == month)? as u64 + 1;
    let day = number(day)?;
    let [h, mi, sec] = time.split(':').collect::<Vec<_>>()[..] else {
        return None;
    };
    let (h, mi, sec) = (number(h)?, number(mi)?, number(sec)?);
    if year < 1970 || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // The day must exist in its month (no 31 Feb): it must come back the same.
    if civil(days) != (year, month, day) {
        return None;
    }
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Decimal digits only (no sign, no spaces).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Days since 1970-01-01 of a date on or after it: the inverse of [`civil`].
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn two(dst: &mut [u8], v: u64) {
    dst[0] = b'0' + (v / 10) as u8;
    dst[1] = b'0' + (v % 10) as u8;
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01, by the
/// era-of-400-years method (H. Hinnant, "chrono-compatible low-level date algorithms").
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(&format(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&format(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format(4_102_444_799), b"Thu, 31 Dec 2099 23:59:59 GMT");
    }

    #[test]
    fn the_three_http_date_forms_parse() {
        for secs in [0, 784_111_777, 951_782_400, 4_102_444_799, 1_795_000_000] {
            let text = format(secs);
            assert_eq!(parse(std::str::from_utf8(&text).unwrap()), Some(secs));
        }
        assert_eq!(parse("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse("Sun Nov  6 08:49:37 1994"), Some(784_111_777));
        assert_eq!(parse("Thursday, 01-Jan-70 00:00:00 GMT"), Some(0));
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn cell_reads_what_was_written() {
        let c = DateCell::new();
        let d = c.get();
        assert_eq!(&d[26..], b"GMT");
    }
}
