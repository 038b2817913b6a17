//! Helpers shared by goro's benchmark programs: flags, RSS readings, RESULT lines.
//!
//! The programs in `src/bin/` follow the goro contract of the peer harness
//! (`../shared/peers/README.md`, "Micro programs"): each prints one
//! `RESULT peer=goro bench=<name> key=value ...` line on stdout.

/// Reads `--name value` from the command line, or `default`.
///
/// # Panics
///
/// If the value does not parse (a benchmark with a wrong flag should stop, not guess).
pub fn flag<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    let key = format!("--{name}");
    for (i, a) in args.iter().enumerate() {
        let value = if a == &key {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix(&format!("{key}=")).map(str::to_owned)
        };
        if let Some(v) = value {
            return v
                .parse()
                .unwrap_or_else(|_| panic!("bad value for {key}: {v:?}"));
        }
    }
    default
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`), or 0 where there is none.
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Prints a RESULT line: `RESULT peer=goro bench=<bench> k=v ...`.
pub fn result(bench: &str, fields: &[(&str, String)]) {
    let mut line = format!("RESULT peer=goro bench={bench}");
    for (k, v) in fields {
        line.push_str(&format!(" {k}={v}"));
    }
    println!("{line}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn rss_is_readable() {
        assert!(super::status_kib("VmRSS") > 0);
        assert_eq!(super::status_kib("NoSuchField"), 0);
    }
}
