//! `kernelspec/gpt2lab/launch.sh` build slots: a new slot is seeded only from an idle slot
//! (never from one a running kernel may be building in), a leftover `target.partial` is not
//! nested into, stale fallback directories are removed, and the shared cargo config is
//! replaced atomically. Runs the real script with a stand-in for evcxr_jupyter.
#![cfg(unix)]

mod common;

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Holds an exclusive flock on `path` while alive, as a running kernel holds its slot.
struct Held {
    _file: File,
}

fn hold(path: &Path) -> Held {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = File::create(path).unwrap();
    // SAFETY: flock on a file descriptor we own.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    Held { _file: f }
}

fn touch(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"x").unwrap();
}

#[test]
fn slots_are_seeded_from_idle_slots_and_leftovers_are_cleaned() {
    if std::process::Command::new("flock").arg("-V").output().is_err() {
        common::missing_prerequisite("GPT2LAB_REQUIRE_FLOCK", "flock (util-linux) not found");
        return;
    }
    let root = common::scratch("kernel_launch");
    let (home, tmp) = (root.join("home"), root.join("tmp"));
    let base = home.join("evcxr");
    // slot-0: a kernel is running (maybe building) there
    touch(&base.join("slot-0/target/busy.rlib"));
    let _busy = hold(&base.join("slot-0/.lock"));
    // slot-1: free, with the leftover of an interrupted copy
    touch(&base.join("slot-1/target.partial/junk"));
    // slot-2: idle and built
    touch(&base.join("slot-2/target/dep.rlib"));
    touch(&base.join("slot-2/.lock"));
    // fallback directories: one of an exited kernel, one of a running kernel
    touch(&tmp.join("gpt2lab-evcxr.stale/.lock"));
    let _live = hold(&tmp.join("gpt2lab-evcxr.live/.lock"));

    let fake = root.join("fake_evcxr.sh");
    std::fs::write(&fake, "#!/bin/sh\nprintf '%s' \"$EVCXR_TMPDIR\" > \"$FAKE_OUT\"\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash")
        .arg(repo.join("kernelspec/gpt2lab/launch.sh"))
        .args(["--control_file", "unused"])
        .env("GPT2LAB_HOME", &home)
        .env("GPT2LAB_REPO", repo)
        .env("GPT2LAB_EVCXR", &fake)
        .env("FAKE_OUT", root.join("slot.txt"))
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let slot1 = base.join("slot-1");
    assert_eq!(std::fs::read_to_string(root.join("slot.txt")).unwrap(), slot1.display().to_string());
    assert!(slot1.join("target/dep.rlib").exists(), "seeded from the idle slot-2");
    assert!(!slot1.join("target/busy.rlib").exists() && !slot1.join("target/target").exists(), "not from the busy slot-0, not nested");
    assert!(!slot1.join("target.partial").exists());
    assert!(!tmp.join("gpt2lab-evcxr.stale").exists(), "a stale fallback directory is removed");
    assert!(tmp.join("gpt2lab-evcxr.live").exists(), "a running kernel's is kept");
    let cargo: Vec<String> = std::fs::read_dir(base.join(".cargo")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(cargo, vec!["config.toml".to_string()]);
}
