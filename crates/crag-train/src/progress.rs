//! Progress reporting shared by the training loops: an indicatif bar on a terminal, log lines elsewhere.

use std::time::Instant;

use crag_core::{CragError, Result};
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar of `n` steps (hidden unless `progress`; indicatif draws nothing when stderr is not a terminal).
pub fn bar(n: usize, prefix: String, progress: bool) -> Result<ProgressBar> {
    let pb = if progress {
        ProgressBar::new(n as u64)
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
        )
        .map_err(|e| CragError::Runtime(e.to_string()))?
        .progress_chars("=> "),
    );
    pb.set_prefix(prefix);
    Ok(pb)
}

/// Progress for logs that are not a terminal (indicatif draws nothing there): a line at every tenth of an epoch.
pub fn log_line(what: &str, done: usize, total: usize, loss: f64, started: Instant) {
    use std::io::IsTerminal;
    let every = (total / 10).max(1);
    if !std::io::stderr().is_terminal() && (done.is_multiple_of(every) || done == total) {
        let el = started.elapsed().as_secs_f64();
        let eta = el / done.max(1) as f64 * (total - done.min(total)) as f64;
        eprintln!("{what}: step {done}/{total} loss {loss:.4} ({el:.0} s, eta {eta:.0} s)");
    }
}

/// Learning-rate factor of a linear warmup over `warmup_frac` of `total` steps, then linear decay to 0.
pub fn linear_lr(step: usize, total: usize, warmup_frac: f64) -> f64 {
    let warm = ((total as f64 * warmup_frac).ceil() as usize).max(1);
    if step < warm {
        (step + 1) as f64 / warm as f64
    } else {
        let rest = (total - warm.min(total)).max(1) as f64;
        (1.0 - (step - warm) as f64 / rest).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_schedule_warms_up_then_decays_to_zero() {
        let total = 100;
        assert!((linear_lr(0, total, 0.1) - 0.1).abs() < 1e-12);
        assert!((linear_lr(9, total, 0.1) - 1.0).abs() < 1e-12);
        assert!(linear_lr(50, total, 0.1) < 1.0);
        assert!(linear_lr(99, total, 0.1) < 0.02);
        assert_eq!(linear_lr(200, total, 0.1), 0.0);
        assert_eq!(linear_lr(1, 1, 0.1), 1.0);
    }
}
