//! Spawning, tracking and killing node processes, and the pids file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{LocalnetError, Result};

/// `<dir>/pids.json`: the pids of a localnet's processes, so another process
/// (`comrade localnet down`) can stop them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidFile {
    /// Per node, in index order.
    pub nodes: Vec<NodePids>,
}

/// Pids of one node's processes (`None` = not running).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePids {
    /// `comrade start`.
    pub app: Option<u32>,
    /// `cometbft node`.
    pub cometbft: Option<u32>,
}

impl PidFile {
    /// The file's path in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("pids.json")
    }

    /// Reads `<dir>/pids.json`; an absent file is an empty pid file.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| LocalnetError::BadFile {
                path,
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PidFile::default()),
            Err(e) => Err(LocalnetError::Io { path, source: e }),
        }
    }

    /// Writes `<dir>/pids.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = Self::path(dir);
        let tmp = dir.join("pids.json.tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| LocalnetError::BadFile {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        std::fs::write(&tmp, bytes).map_err(LocalnetError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(LocalnetError::io(&path))
    }

    /// All pids that are alive and belong to this localnet (their command
    /// line mentions `dir`).
    pub fn live_pids(&self, dir: &Path) -> Vec<u32> {
        self.nodes
            .iter()
            .flat_map(|n| [n.app, n.cometbft])
            .flatten()
            .filter(|p| pid_is_ours(*p, dir))
            .collect()
    }
}

/// Whether `/proc/<pid>/stat` says zombie (`Z`, the field after the
/// parenthesised comm).
fn stat_is_zombie(stat_path: &str) -> bool {
    std::fs::read_to_string(stat_path).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Whether the process has exited as a whole. Its main thread turns zombie
/// as soon as it exits, while the other threads may still be tearing down,
/// still holding the process's files and sockets (a listening port stays
/// taken for that moment), so every thread (the main one is listed among
/// the tasks too) must be a zombie or gone.
fn all_threads_zombie(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.flatten().all(|t| {
        let stat = t.path().join("stat");
        // A task that vanished meanwhile has exited too.
        !stat.exists() || stat_is_zombie(&stat.to_string_lossy())
    })
}

/// Whether `pid` is a live process whose command line mentions `dir`
/// (guards against killing an unrelated process that reused the pid).
///
/// A process whose main thread is a zombie while other threads still run is
/// exiting: it counts as live until they are gone (its command line reads
/// empty by then, and a zombie's pid cannot have been reused).
pub(crate) fn pid_is_ours(pid: u32, dir: &Path) -> bool {
    let stat_path = format!("/proc/{pid}/stat");
    if stat_is_zombie(&stat_path) {
        return !all_threads_zombie(pid);
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    // An exiting process drops its memory (its command line then reads
    // empty) before its main thread turns zombie: it still holds its
    // sockets, so it counts as live. Taking it for gone let `stop` return
    // while the process was still exiting, and the next `start` then found
    // it "running" and kept the dying process's record. Kernel threads
    // (children of kthreadd, pid 2) also read empty and are never ours.
    if cmdline.is_empty() {
        return std::fs::read_to_string(&stat_path).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .is_some_and(|ppid| ppid != "2" && ppid != "0")
        });
    }
    // Every process of a localnet gets `--home <dir>/node<i>` (or
    // `<dir>/node-compute`), with `dir` as given or made absolute: match
    // either, so `down --dir /abs/path` and `down` from the directory both
    // find every process.
    let mut needles = vec![dir.join("node")];
    if let Ok(abs) = std::path::absolute(dir) {
        needles.push(abs.join("node"));
    }
    needles.iter().any(|n| {
        let n = n.as_os_str().as_encoded_bytes();
        cmdline.windows(n.len()).any(|w| w == n)
    })
}

/// Sends `signal` (`"TERM"` or `"KILL"`) to `pid` with the `kill(2)` syscall
/// (through rustix's safe wrapper).
///
/// Best effort, like the `kill(1)` it replaces: callers check afterwards
/// whether the process is gone (`pid_is_ours`, `wait_gone`), so a
/// failure needs no report here. In particular `ESRCH` (no such process)
/// only means it already exited between the caller's check and the signal.
/// An unknown signal name, or a pid that is not a single process (`0` and
/// values above `i32::MAX` would address a process group or every process),
/// sends nothing.
pub fn signal(pid: u32, signal: &str) {
    use rustix::process::{Pid, Signal, kill_process};
    let sig = match signal {
        "TERM" => Signal::TERM,
        "KILL" => Signal::KILL,
        _ => return,
    };
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    match kill_process(pid, sig) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        // EPERM and the like: the callers' liveness checks see the process
        // still running and escalate or report, as they did with kill(1).
        Err(_) => {}
    }
}

/// A process this localnet started (or found in the pids file).
#[derive(Debug)]
pub(crate) struct Proc {
    pub pid: u32,
    /// Present when this process spawned it (reaps it and reads its status).
    pub child: Option<Child>,
}

impl Proc {
    /// Whether it still runs; `Some(status)` once it exited.
    pub(crate) fn exited(&mut self, dir: &Path) -> Option<String> {
        match &mut self.child {
            Some(c) => match c.try_wait() {
                Ok(Some(s)) => Some(s.to_string()),
                Ok(None) => None,
                Err(e) => Some(format!("unknown ({e})")),
            },
            None => (!pid_is_ours(self.pid, dir)).then(|| "gone".to_string()),
        }
    }

    /// Sends SIGKILL and waits (bounded) until it is gone.
    pub(crate) fn kill(&mut self, dir: &Path) {
        match &mut self.child {
            Some(c) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            None => {
                if pid_is_ours(self.pid, dir) {
                    signal(self.pid, "KILL");
                    wait_gone(self.pid, dir, Duration::from_secs(5));
                }
            }
        }
    }
}

/// Polls until `pid` is gone or `timeout` passes; returns whether it is gone.
pub(crate) fn wait_gone(pid: u32, dir: &Path, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !pid_is_ours(pid, dir) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !pid_is_ours(pid, dir)
}

/// Spawns `program args…` with stdout and stderr appended to `log`, in its
/// own process group (so a Ctrl-C aimed at the launching terminal does not
/// reach it; it keeps running after the launcher exits).
pub(crate) fn spawn(program: &Path, args: &[String], log: &Path) -> Result<Proc> {
    spawn_env(program, args, log, &[])
}

/// [`spawn`] with extra environment variables.
pub(crate) fn spawn_env(
    program: &Path,
    args: &[String],
    log: &Path,
    envs: &[(&str, &str)],
) -> Result<Proc> {
    use std::os::unix::process::CommandExt as _;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(LocalnetError::io(log))?;
    let err = file.try_clone().map_err(LocalnetError::io(log))?;
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        // Keep error messages at the end of the log (shown when a process
        // dies) instead of a backtrace inherited from a test's environment.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .envs(envs.iter().copied())
        .process_group(0)
        .spawn()
        .map_err(LocalnetError::io(program))?;
    Ok(Proc {
        pid: child.id(),
        child: Some(child),
    })
}

/// Runs a command to completion (bounded by the command itself) and returns
/// its stdout; a non-zero exit is an error carrying stderr.
pub(crate) fn run(program: &Path, args: &[&str]) -> Result<String> {
    run_env(program, args, &[])
}

/// [`run`] with extra environment variables.
pub(crate) fn run_env(program: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<String> {
    let command = format!("{} {}", program.display(), args.join(" "));
    let out = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LocalnetError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(LocalnetError::Command {
            command,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last `n` lines of a log file (empty if unreadable).
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process started with an absolute `--home` is recognised whether
    /// the localnet directory is named relatively (as `down` run from the
    /// checkout does) or absolutely (as the hint `up` prints does).
    #[test]
    fn processes_are_ours_by_relative_or_absolute_dir() {
        let tmp = tempfile::tempdir_in(".").unwrap();
        let name = tmp.path().file_name().unwrap().to_owned();
        let relative = Path::new(".").join(&name);
        let absolute = std::path::absolute(&relative).unwrap();
        let home = absolute.join("node-compute");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("sleep 30")
            .arg("sh")
            .arg("--home")
            .arg(&home)
            .spawn()
            .unwrap();
        // Give `sh` a moment to exist with its arguments.
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(pid_is_ours(child.id(), &relative));
        assert!(pid_is_ours(child.id(), &absolute));
        assert!(!pid_is_ours(child.id(), &absolute.join("elsewhere")));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// `signal` delivers TERM and KILL to a live process, sends nothing for
    /// an unknown name, and a pid with no process behind it (ESRCH) is not
    /// an error.
    #[test]
    fn signal_delivers_term_and_kill_and_tolerates_missing_processes() {
        use std::os::unix::process::ExitStatusExt as _;
        for (name, number) in [("TERM", 15), ("KILL", 9)] {
            let mut child = Command::new("sleep").arg("30").spawn().unwrap();
            signal(child.id(), "NOSUCHSIGNAL");
            assert!(child.try_wait().unwrap().is_none(), "still running");
            signal(child.id(), name);
            let status = child.wait().unwrap();
            assert_eq!(status.signal(), Some(number), "{name}: {status}");
        }
        // Above Linux's largest pid_max (2^22), so never a live process.
        let missing = i32::MAX;
        assert_eq!(
            rustix::process::kill_process(
                rustix::process::Pid::from_raw(missing).expect("positive"),
                rustix::process::Signal::TERM,
            ),
            Err(rustix::io::Errno::SRCH)
        );
        signal(missing.unsigned_abs(), "KILL");
    }

    /// A process whose main thread exits on its own (the raw `exit` syscall,
    /// not `exit_group`) while another thread sleeps on: its main thread is
    /// a zombie, yet it still runs and holds its files. It must count as
    /// live until the last thread is gone, then as gone.
    #[test]
    fn exiting_process_counts_as_live_until_its_last_thread_ends() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("node0");
        // `python3` may be a shim that execs the interpreter: wait for the
        // interpreter's "ready" before looking at the process.
        let script = "import ctypes, threading, time\n\
                      threading.Thread(target=lambda: time.sleep(1.5)).start()\n\
                      print('ready', flush=True)\n\
                      time.sleep(0.2)\n\
                      ctypes.CDLL(None).syscall(60, 0)\n";
        let mut child = Command::new("python3")
            .args(["-c", script, "--home"])
            .arg(&home)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let pid = child.id();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("piped stdout")),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ready");
        assert!(pid_is_ours(pid, dir.path()), "running, own command line");
        assert!(!pid_is_ours(pid, Path::new("/elsewhere")), "another dir");

        // Wait (bounded) for the main thread to become a zombie.
        let start = Instant::now();
        while !stat_is_zombie(&format!("/proc/{pid}/stat")) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "main thread never exited"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            pid_is_ours(pid, dir.path()),
            "main thread is a zombie but the sleeping thread still runs"
        );
        assert!(wait_gone(pid, dir.path(), Duration::from_secs(10)));
        assert!(all_threads_zombie(pid) || !Path::new(&format!("/proc/{pid}")).exists());
        let _ = child.wait();
    }
}
