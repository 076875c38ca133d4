//! Independent implementations in Python: the official libraries of the schemes our server
//! signs with (Stripe's, Standard Webhooks'), installed by `scripts/setup.sh` into
//! `target/py`. A check that needs one panics when it is missing; it never skips.

use std::path::PathBuf;
use std::process::Command;

/// Runs `script` with `args` (`sys.argv[1..]`) where `package` can be imported; its stdout,
/// trimmed. Panics when the package is not installed or the script fails.
pub fn run_python(package: &str, script: &str, args: &[&str]) -> String {
    let library = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py");
    assert!(
        library.join(package).is_dir(),
        "the Python package `{package}` is missing from {}: run scripts/setup.sh",
        library.display()
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .env("PYTHONPATH", &library)
        .output()
        .expect("running python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
