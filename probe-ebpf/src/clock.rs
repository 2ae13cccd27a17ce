//! Converting event timestamps (CLOCK_BOOTTIME, `bpf_ktime_get_boot_ns`) to wall-clock time.

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec; the clocks used always exist on Linux.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    debug_assert_eq!(rc, 0);
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Nanoseconds to add to an event's [`ts_boot_ns`](crate::EventHeader::ts_boot_ns) to get
/// Unix-epoch wall-clock nanoseconds (`CLOCK_REALTIME - CLOCK_BOOTTIME`).
///
/// Measured as the tightest of several (realtime, boottime, realtime) samples, so it is
/// accurate to well under a microsecond. The offset changes when the wall clock is
/// stepped (settimeofday, NTP steps): call it again periodically (e.g. every few
/// seconds) rather than once at start.
pub fn boot_to_wall_clock_offset() -> i64 {
    let mut best: Option<(i64, i64)> = None; // (width, offset)
    for _ in 0..8 {
        let a = clock_ns(libc::CLOCK_REALTIME);
        let b = clock_ns(libc::CLOCK_BOOTTIME);
        let c = clock_ns(libc::CLOCK_REALTIME);
        let width = c - a;
        let offset = a + width / 2 - b;
        if best.is_none_or(|(w, _)| width < w) {
            best = Some((width, offset));
        }
    }
    best.map(|(_, o)| o).unwrap_or(0)
}

/// Wall-clock (Unix epoch) nanoseconds of a boot-time timestamp, given an offset from
/// [`boot_to_wall_clock_offset`].
pub fn boot_ns_to_wall_clock_ns(ts_boot_ns: u64, offset: i64) -> i64 {
    ts_boot_ns as i64 + offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_maps_boottime_now_to_realtime_now() {
        let off = boot_to_wall_clock_offset();
        let boot = clock_ns(libc::CLOCK_BOOTTIME) as u64;
        let real = clock_ns(libc::CLOCK_REALTIME);
        let converted = boot_ns_to_wall_clock_ns(boot, off);
        assert!(
            (converted - real).abs() < 5_000_000,
            "{converted} vs {real}"
        );
        // The machine booted after 2020-01-01 and before the wall clock's now.
        assert!(off > 1_577_836_800_000_000_000);
        assert!(off < real);
    }
}
