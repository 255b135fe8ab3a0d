//! `comrade localnet up/status/logs/down` through the library's CLI entry
//! point, with the processes detached as the real command leaves them.

use std::path::{Path, PathBuf};

use comrade_localnet::PidFile;
use comrade_localnet::cli::{LocalnetCommand, LogKind, run};

use crate::common::serial;

/// Stops whatever `up` left running, even if the test fails.
struct DownOnDrop(PathBuf);
impl Drop for DownOnDrop {
    fn drop(&mut self) {
        let _ = comrade_localnet::down(&self.0);
    }
}

fn up(dir: &Path, bin: &Path) -> anyhow::Result<()> {
    run(
        LocalnetCommand::Up {
            validators: 4,
            dir: dir.to_path_buf(),
            base_port: 21_600,
            reset: false,
            timeout: 60,
            compute: false,
            compute_listen: "127.0.0.1:21995".into(),
            compute_schedule: comrade_localnet::ComputeSchedule::Standard,
        },
        bin.to_path_buf(),
    )
}

fn live(dir: &Path) -> usize {
    PidFile::load(dir).unwrap().live_pids(dir).len()
}

#[test]
fn cli_up_status_logs_down_and_resume() {
    let _serial = serial();
    let bin = comrade_localnet::find_comrade_bin()
        .unwrap_or_else(|e| panic!("e2e tests need the comrade binary: {e}"));
    comrade_localnet::find_cometbft().unwrap_or_else(|e| panic!("e2e tests need cometbft: {e}"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ln");
    let _down = DownOnDrop(dir.clone());

    up(&dir, &bin).unwrap();
    let dir = std::fs::canonicalize(&dir).unwrap();
    assert_eq!(live(&dir), 8, "4 apps + 4 cometbft detached and recorded");

    let again = up(&dir, &bin).unwrap_err().to_string();
    assert!(again.contains("already running"), "{again}");

    run(LocalnetCommand::Status { dir: dir.clone() }, bin.clone()).unwrap();
    run(
        LocalnetCommand::Logs {
            index: 0,
            dir: dir.clone(),
            process: LogKind::Both,
            lines: 3,
            follow: false,
        },
        bin.clone(),
    )
    .unwrap();
    let bad = run(
        LocalnetCommand::Logs {
            index: 9,
            dir: dir.clone(),
            process: LogKind::App,
            lines: 3,
            follow: false,
        },
        bin.clone(),
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("no node 9"), "{bad}");

    run(
        LocalnetCommand::Down {
            dir: dir.clone(),
            purge: false,
        },
        bin.clone(),
    )
    .unwrap();
    assert_eq!(live(&dir), 0);

    // `up` on the stopped localnet resumes it from its data.
    up(&dir, &bin).unwrap();
    assert_eq!(live(&dir), 8);
    run(
        LocalnetCommand::Down {
            dir: dir.clone(),
            purge: true,
        },
        bin,
    )
    .unwrap();
    assert!(!dir.exists(), "--purge removes the directory");
}
