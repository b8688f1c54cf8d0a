//! The Python model-API servers of `scripts/model-api/` for end-to-end tests: spawned with
//! `serve.sh` on a free loopback port, waited for until `/health` answers, and killed with
//! their whole process group when dropped, so no test leaves a server behind.
//!
//! Needs the virtualenv that `scripts/model-api/setup.sh` makes (`scripts/test.sh` runs it);
//! without it a test fails and says so, it never passes by skipping.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a server may take to answer `GET /health` after it is spawned (imports of
/// scikit-learn and the framework take a few seconds on a busy 2-core machine).
const STARTUP_LIMIT: Duration = Duration::from_secs(30);
/// Longest one direct request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Fails the test, saying how to fix it, when setup.sh has not been run.
pub fn require_setup() {
    let venv = repo().join(".venv");
    for needed in [
        "bin/python",
        "bin/gunicorn",
        "bin/uvicorn",
        "model/heart.joblib",
    ] {
        assert!(
            venv.join(needed).exists(),
            "{} is missing: the Python model-API servers are not set up; \
             run scripts/model-api/setup.sh (or scripts/test.sh)",
            venv.join(needed).display()
        );
    }
}

/// A port on loopback that nothing listened on a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// A `scripts/model-api/serve.sh` server; dropping it kills its whole process group
/// (gunicorn's master and workers), so no test leaves a server behind, even on panic.
pub struct PyServer {
    pub framework: &'static str,
    pub port: u16,
    /// Serving HTTPS (`TLS_CERT` given): `host()` is https://, and readiness is the port.
    pub tls: bool,
    child: Child,
    stderr: PathBuf,
}

impl PyServer {
    /// Spawns `serve.sh FRAMEWORK PORT` and waits until `GET /health` answers 200.
    pub fn start(framework: &'static str) -> PyServer {
        Self::start_with(framework, &[])
    }

    /// `start` with extra environment for serve.sh (e.g. `KEEP_ALIVE_S`).
    pub fn start_with(framework: &'static str, env: &[(&str, &str)]) -> PyServer {
        require_setup();
        let port = free_port();
        let stderr = std::env::temp_dir().join(format!(
            "blast-model-api-{}-{framework}-{port}.stderr",
            std::process::id()
        ));
        let child = Command::new(repo().join("scripts/model-api/serve.sh"))
            .arg(framework)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("server stderr file"))
            .process_group(0) // its own group, so Drop reaches every worker
            .envs(env.iter().copied())
            .spawn()
            .expect("spawning scripts/model-api/serve.sh");
        let mut server = PyServer {
            framework,
            port,
            tls: env.iter().any(|(k, _)| *k == "TLS_CERT"),
            child,
            stderr,
        };
        server.wait_healthy();
        server
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn wait_healthy(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} server exited ({status}) before answering /health; stderr:\n{}",
                    self.framework,
                    self.stderr_text()
                );
            }
            if self.ready() {
                return;
            }
            if start.elapsed() > STARTUP_LIMIT {
                panic!(
                    "{} server on port {} did not answer GET /health within {STARTUP_LIMIT:?}; \
                     stderr:\n{}",
                    self.framework,
                    self.port,
                    self.stderr_text()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server answers `GET /health` with 200: over plain HTTP directly; over TLS (this
    /// harness speaks none) by one request from blast itself, `-k` since only readiness is
    /// asked (gunicorn listens before its worker has loaded the app, so the port says nothing).
    fn ready(&self) -> bool {
        if !self.tls {
            return matches!(try_request(self.port, "GET", "/health", None), Ok((200, _)));
        }
        let url = format!("{}/health", self.host());
        Command::new(env!("CARGO_BIN_EXE_blast"))
            .args([
                &url,
                "-k",
                "-n",
                "1",
                "-u",
                "1",
                "-c",
                "1",
                "--timeout",
                "2s",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("200: 1"))
    }

    pub fn host(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// One request on a fresh connection: the status and the body as JSON.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (status, body) = try_request(self.port, method, path, body).unwrap_or_else(|e| {
            panic!(
                "{} {method} {path}: {e}; server stderr:\n{}",
                self.framework,
                self.stderr_text()
            )
        });
        let doc = serde_json::from_str(&body).unwrap_or_else(|e| {
            panic!(
                "{} {method} {path}: body is not JSON ({e}): {body:?}",
                self.framework
            )
        });
        (status, doc)
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        // serve.sh execs the server, so the child's PID leads the group made at spawn.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the whole answer.
pub fn try_request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let bad = || std::io::Error::other(format!("not an HTTP response: {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(bad)?;
    // The servers answer these small documents with Content-Length, never chunked.
    Ok((status, body.to_string()))
}
