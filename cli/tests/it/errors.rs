//! Help texts and one-line errors.

use crate::*;

#[test]
fn every_command_has_help() {
    let home = tempfile::tempdir().unwrap();
    for cmd in [
        vec![],
        vec!["init"],
        vec!["start"],
        vec!["keys"],
        vec!["keys", "add"],
        vec!["genesis"],
        vec!["genesis", "init"],
        vec!["genesis", "add-validator"],
        vec!["tx", "bank", "send"],
        vec!["query"],
        vec!["query", "bank", "balance"],
        vec!["query", "tx"],
        vec!["status"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let out = ok(comrade(home.path(), &args));
        assert!(out.contains("Usage: comrade"), "{cmd:?}: {out}");
    }
}

#[test]
fn bad_input_gives_one_clear_line_and_nonzero_exit() {
    let home = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["query", "bank", "balance", "cosmos1xyz"],
            "invalid bech32 address",
        ),
        (vec!["query", "tx", "zz"], "invalid tx hash"),
        (
            vec!["--node", "http://127.0.0.1:1", "status"],
            "cannot reach node http://127.0.0.1:1",
        ),
        (vec!["keys", "show", "nobody"], "nobody"),
        (vec!["genesis", "validate"], "genesis"),
    ];
    for (args, needle) in cases {
        let o = comrade(home.path(), &args);
        assert!(!o.status.success(), "{args:?} should fail");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn keys_lifecycle() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(comrade(h, &["keys", "add", "alice"]));
    let addr = ok(comrade(h, &["keys", "show", "alice", "--address"]));
    assert!(addr.starts_with("comrade1"), "{addr}");
    let list = ok(comrade(h, &["--output", "json", "keys", "list"]));
    assert!(list.contains(&addr));
    // Export, delete, re-import: same address.
    let secret = ok(comrade(h, &["keys", "export", "alice"]));
    ok(comrade(h, &["keys", "delete", "alice", "--yes"]));
    assert!(!comrade(h, &["keys", "show", "alice"]).status.success());
    let file = h.join("secret.txt");
    std::fs::write(&file, secret.lines().last().unwrap()).unwrap();
    let import = Command::new(BIN)
        .args(["--home"])
        .arg(h)
        .args(["keys", "import", "alice2", "--file"])
        .arg(&file)
        .env("COMRADE_KEYRING_PASSPHRASE", PASS)
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", stderr(&import));
    assert_eq!(
        ok(comrade(h, &["keys", "show", "alice2", "--address"])),
        addr
    );
    // The wrong passphrase cannot export.
    let o = Command::new(BIN)
        .arg("--home")
        .arg(h)
        .args(["keys", "export", "alice2"])
        .env("COMRADE_KEYRING_PASSPHRASE", "wrong passphrase")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));
}
