//! Dates of papers: day arithmetic, and which dates are plausible for a paper at all.

/// The first day of arXiv (its first paper, hep-th/9108001, 14 August 1991): no paper is older.
pub const FIRST_DAY: &str = "1991-08-14";

/// Days since 1970-01-01 of a `YYYY-MM-DD` date, `None` if it is not one.
pub fn day_number(date: &str) -> Option<i64> {
    let mut it = date.get(..10)?.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// [`day_number`] of a date that exists: exactly `YYYY-MM-DD`, and a day its month has
/// (archives carry `2007-02-31` and `2024-1-5`; digests' headings are checked by their parser).
pub fn calendar_day(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let y: i64 = date[..4].parse().ok()?;
    let m: u32 = date[5..7].parse().ok()?;
    let d: u32 = date[8..].parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if d > days {
        return None;
    }
    day_number(date)
}

/// Today's day number (UTC), plus one day for digests dated in a time zone ahead of UTC.
fn latest_day() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    secs.div_euclid(86_400) + 1
}

/// The day number of `date` when a paper can bear it: on or after [`FIRST_DAY`] and not after
/// today. A digest dated 9999-12-31 or 1900-01-01 is kept with its papers, but such a date would
/// otherwise become the end of every trend window and the brief's latest day.
pub fn plausible_day(date: &str) -> Option<i64> {
    let day = day_number(date)?;
    let first = day_number(FIRST_DAY)?;
    (first..=latest_day()).contains(&day).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_and_plausible_dates() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(
            day_number("2024-03-01")
                .zip(day_number("2024-02-28"))
                .map(|(a, b)| a - b),
            Some(2)
        );
        assert_eq!(day_number("2024-13-01"), None);
        assert!(calendar_day("2024-02-29").is_some());
        for bad in [
            "2023-02-29",
            "2007-02-31",
            "2024-04-31",
            "2024-1-05",
            "2024-01-0x",
        ] {
            assert_eq!(calendar_day(bad), None, "{bad}");
        }
        assert!(plausible_day("2024-09-26").is_some());
        assert!(plausible_day(FIRST_DAY).is_some());
        for bad in ["9999-12-31", "1900-01-01", "1991-08-13", "soon"] {
            assert!(plausible_day(bad).is_none(), "{bad}");
        }
    }
}
