//! UTC timestamps without a date-time dependency (civil-from-days, H. Hinnant's algorithm).

use std::time::{SystemTime, UNIX_EPOCH};

/// (year, month, day, hour, minute, second) in UTC for seconds since the Unix epoch.
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// RFC 3339 UTC timestamp for `secs` since the epoch, e.g. `2025-06-02T14:03:59Z`.
pub fn utc_rfc3339_at(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// RFC 3339 UTC timestamp for now.
pub fn utc_rfc3339() -> String {
    utc_rfc3339_at(now_secs())
}

/// `yyyymmdd-hhmmss` (UTC, now): the run-folder name.
pub fn utc_compact_stamp() -> String {
    let (y, mo, d, h, mi, s) = civil(now_secs());
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(utc_rfc3339_at(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_rfc3339_at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_rfc3339_at(1_748_872_800), "2025-06-02T14:00:00Z");
        assert_eq!(utc_rfc3339_at(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn stamp_shape() {
        let s = utc_compact_stamp();
        assert_eq!(s.len(), 15);
        assert_eq!(&s[8..9], "-");
    }
}
