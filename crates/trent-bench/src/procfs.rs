//! What the benchmark reads from `/proc`: a process's CPU time
//! (`/proc/PID/stat`), its resident memory (`/proc/PID/status`), the whole
//! machine's CPU time (`/proc/stat`) and the CPU model (`/proc/cpuinfo`).
//! The parsers are pure functions of the file's text, tested below.

use std::time::Duration;

/// Clock ticks per second of the times in `/proc/*/stat` (`USER_HZ`). Asked
/// of `getconf CLK_TCK` (sysconf needs `unsafe`, which the workspace
/// forbids); 100, the value on every mainstream Linux, if that fails.
pub fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// `utime + stime` (fields 14 and 15, in clock ticks) of a `/proc/PID/stat`
/// line: the CPU time of all the process's threads. The command name (field
/// 2) may hold spaces and parentheses, so fields are counted after the last
/// `)`.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ")": field 3 (state) is the first; utime is field 14.
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A value in kB from `/proc/PID/status`, e.g. `VmRSS` or `VmHWM`.
pub fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let mut parts = rest.split_ascii_whitespace();
        let value = parts.next()?.parse().ok()?;
        matches!(parts.next(), Some("kB") | None).then_some(value)
    })
}

/// Busy and total clock ticks of all CPUs, from the first line of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MachineTicks {
    pub busy: u64,
    pub total: u64,
}

/// Parses the aggregate `cpu` line of `/proc/stat`: user nice system idle
/// iowait irq softirq steal (guest time is already inside user and nice).
pub fn parse_proc_stat(stat: &str) -> Option<MachineTicks> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 4 {
        return None;
    }
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    let idle = get(3) + get(4);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
    Some(MachineTicks {
        busy,
        total: busy + idle,
    })
}

/// The first `model name` of `/proc/cpuinfo`.
pub fn parse_cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// Reads CPU time: of a process (`Some(pid)`), of this process (`None`).
#[derive(Debug, Clone, Copy)]
pub struct CpuClock {
    pub ticks_per_sec: u64,
}

impl CpuClock {
    pub fn new() -> Self {
        Self {
            ticks_per_sec: clock_ticks_per_sec(),
        }
    }

    fn ticks_to_duration(&self, ticks: u64) -> Duration {
        Duration::from_secs_f64(ticks as f64 / self.ticks_per_sec as f64)
    }

    /// CPU time (user + system, all threads) of `pid`, or of this process.
    pub fn process(&self, pid: Option<u32>) -> Option<Duration> {
        let path = match pid {
            Some(pid) => format!("/proc/{pid}/stat"),
            None => "/proc/self/stat".to_owned(),
        };
        let text = std::fs::read_to_string(path).ok()?;
        parse_stat_cpu_ticks(&text).map(|t| self.ticks_to_duration(t))
    }

    /// Busy and total CPU time of the whole machine, all cores.
    pub fn machine(&self) -> Option<(Duration, Duration)> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        let t = parse_proc_stat(&text)?;
        Some((
            self.ticks_to_duration(t.busy),
            self.ticks_to_duration(t.total),
        ))
    }
}

impl Default for CpuClock {
    fn default() -> Self {
        Self::new()
    }
}

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((
        parse_status_kib(&text, "VmRSS")?,
        parse_status_kib(&text, "VmHWM").unwrap_or(0),
    ))
}

/// The CPU model name, if `/proc/cpuinfo` says.
pub fn cpu_model() -> Option<String> {
    parse_cpu_model(&std::fs::read_to_string("/proc/cpuinfo").ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_odd_command_name() {
        // A real line, with spaces and a ')' in the command name.
        let line = "4242 (trent (x) y) S 1 4242 4242 0 -1 4194560 1200 0 0 0 \
                    731 289 0 0 20 0 3 0 123456 100000000 2000 18446744073709551615 \
                    1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat_cpu_ticks(line), Some(731 + 289));
    }

    #[test]
    fn stat_line_truncated() {
        assert_eq!(parse_stat_cpu_ticks("1 (x) S 1 2 3"), None);
        assert_eq!(parse_stat_cpu_ticks("no paren"), None);
    }

    #[test]
    fn own_stat_parses() {
        let text = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(parse_stat_cpu_ticks(&text).is_some());
        assert!(CpuClock::new().process(None).is_some());
        assert!(memory_kib(std::process::id()).unwrap().0 > 0);
    }

    #[test]
    fn status_fields() {
        let status = "Name:\ttrent\nVmPeak:\t  900000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40960 kB\nThreads:\t3\n";
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(40960));
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(51234));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
        // A prefix of another field name does not match.
        assert_eq!(parse_status_kib(status, "VmR"), None);
    }

    #[test]
    fn proc_stat_totals() {
        let stat = "cpu  100 5 50 800 20 3 2 1 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 1 2 3\n";
        assert_eq!(
            parse_proc_stat(stat),
            Some(MachineTicks {
                busy: 100 + 5 + 50 + 3 + 2 + 1,
                total: 100 + 5 + 50 + 3 + 2 + 1 + 800 + 20
            })
        );
        assert_eq!(parse_proc_stat("cpu0 1 2 3 4\n"), None);
    }

    #[test]
    fn cpu_model_name() {
        let info = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n";
        assert_eq!(parse_cpu_model(info).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(parse_cpu_model("processor: 0\n"), None);
    }
}
