//! HTTPS against real parts: Debian's nginx (installed by `scripts/install-nginx.sh`, run by
//! `scripts/test.sh`) with certificates generated here on free loopback ports, `blast serve`
//! over TLS, and hostile servers that break the handshake or the records on purpose. Every
//! failure must be counted under its kind, the run must end on time and write its report.
mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::Value;
use support::{blast, errors_of, no_errors, run_blast, uint, Scratch};

/// nginx must answer within this after it is started.
const NGINX_START: Duration = Duration::from_secs(10);
const NGINX: &str = "/usr/sbin/nginx";

/// A CA and what it signed, written as PEM files into a scratch directory.
struct Pki {
    dir: Scratch,
}

impl Pki {
    fn new() -> Pki {
        let dir = Scratch::new("tls-pki");
        let (ca_params, ca_key) = ca("blast test CA");
        std::fs::write(
            dir.file("ca.pem"),
            ca_params.self_signed(&ca_key).unwrap().pem(),
        )
        .unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        leaf(&dir, "server", &["localhost", "127.0.0.1"], &issuer);
        leaf(&dir, "wrong", &["wrong.example"], &issuer);
        leaf(&dir, "client", &["blast client"], &issuer);
        // A client certificate from a CA the server does not trust.
        let (other_params, other_key) = ca("someone else's CA");
        leaf(
            &dir,
            "stranger",
            &["stranger"],
            &Issuer::new(other_params, other_key),
        );
        Pki { dir }
    }

    fn file(&self, name: &str) -> String {
        self.dir.file(name)
    }
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params, key)
}

fn leaf(dir: &Scratch, name: &str, sans: &[&str], issuer: &Issuer<'_, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let cert = CertificateParams::new(sans)
        .unwrap()
        .signed_by(&key, issuer)
        .unwrap();
    std::fs::write(dir.file(&format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.file(&format!("{name}.key")), key.serialize_pem()).unwrap();
}

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One nginx process (no master) serving three TLS servers: the right certificate, a
/// certificate for another name, and one that requires a client certificate.
struct Nginx {
    child: Child,
    ok: u16,
    wrong_name: u16,
    mtls: u16,
    _dir: Scratch,
}

impl Nginx {
    fn start(pki: &Pki) -> Nginx {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} is missing: run scripts/install-nginx.sh (scripts/test.sh does)"
        );
        let dir = Scratch::new("nginx");
        let (ok, wrong_name, mtls) = (free_port(), free_port(), free_port());
        let server = |port: u16, cert: &str, extra: &str| {
            format!(
                "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {}; ssl_certificate_key {};
                  ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets on; {extra}
                  location /health {{ return 200 \"ok\\n\"; }} }}\n",
                pki.file(&format!("{cert}.pem")),
                pki.file(&format!("{cert}.key")),
            )
        };
        let conf = format!(
            "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;
             error_log {d}/error.log; events {{ worker_connections 512; }}
             http {{ access_log off; keepalive_requests 100000;
               client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};
               uwsgi_temp_path {d}; scgi_temp_path {d};
               {}{}{} }}\n",
            server(ok, "server", ""),
            server(wrong_name, "wrong", ""),
            server(
                mtls,
                "server",
                &format!(
                    "ssl_verify_client on; ssl_client_certificate {};",
                    pki.file("ca.pem")
                )
            ),
            d = dir.0.display(),
        );
        std::fs::write(dir.file("nginx.conf"), conf).unwrap();
        let child = Command::new(NGINX)
            .args(["-p", &dir.file(""), "-c", &dir.file("nginx.conf")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", mtls)).is_err() {
            assert!(
                started.elapsed() < NGINX_START,
                "nginx did not listen: {}",
                std::fs::read_to_string(dir.file("error.log")).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(20));
        }
        Nginx {
            child,
            ok,
            wrong_name,
            mtls,
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the JSON Schema says is wrong with a report (nothing, for a TLS run's report).
fn schema_errors(report: &Value) -> Vec<String> {
    let text = std::fs::read_to_string("schemas/result.schema.json").unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn tls(r: &Value) -> &Value {
    &r["connections"]["tls"]
}

fn url(port: u16) -> String {
    format!("https://localhost:{port}/health")
}

#[test]
fn nginx_keepalive_pipelining_and_churn_with_resumption_counted() {
    let _g = support::shared();
    let pki = Pki::new();
    let nginx = Nginx::start(&pki);
    let ca = pki.file("ca.pem");
    let u = url(nginx.ok);

    // Keep-alive: four connections, many requests, four full handshakes.
    let (r, _) = run_blast(&["-c", "1", "-u", "4", "-d", "1s", "--cacert", &ca, &u]);
    assert!(no_errors(&r) && uint(&r, "requests") > 100, "{r:#}");
    assert_eq!(uint(&r, "connections_opened"), 4, "{r:#}");
    assert_eq!(tls(&r)["full_handshakes"], 4, "{r:#}");
    let negotiated = tls(&r)["negotiated"].as_object().unwrap();
    assert!(negotiated.keys().all(|k| k.starts_with("TLSv1_3")), "{r:#}");
    assert!(tls(&r)["handshake_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert_eq!(schema_errors(&r), Vec::<String>::new());

    // Pipelining over TLS.
    let (r, _) = run_blast(&[
        "-c", "1", "-u", "2", "-p", "16", "-d", "1s", "--cacert", &ca, &u,
    ]);
    assert!(no_errors(&r) && uint(&r, "requests") > 100, "{r:#}");

    // --no-keepalive: a connection per request, resumed after the first full handshake.
    let (r, _) = run_blast(&[
        "-c",
        "1",
        "-u",
        "2",
        "-d",
        "1s",
        "--no-keepalive",
        "--cacert",
        &ca,
        &u,
    ]);
    assert!(no_errors(&r), "{r:#}");
    let requests = uint(&r, "requests");
    assert!(requests > 10, "{r:#}");
    assert!(uint(&r, "connections_opened") >= requests, "{r:#}");
    assert!(
        tls(&r)["resumed_handshakes"].as_u64().unwrap() > requests / 2,
        "{r:#}"
    );

    // --no-tls-resume: every handshake is a full one.
    let (r, _) = run_blast(&[
        "-c",
        "1",
        "-u",
        "2",
        "-d",
        "1s",
        "--no-keepalive",
        "--no-tls-resume",
        "--cacert",
        &ca,
        &u,
    ]);
    assert!(no_errors(&r), "{r:#}");
    assert_eq!(tls(&r)["resumed_handshakes"], 0, "{r:#}");
    assert!(tls(&r)["full_handshakes"].as_u64().unwrap() > 10, "{r:#}");
}

#[test]
fn nginx_wrong_name_counts_tls_cert_and_prints_the_reason_once() {
    let _g = support::shared();
    let pki = Pki::new();
    let nginx = Nginx::start(&pki);
    let ca = pki.file("ca.pem");
    let (r, out) = run_blast(&[
        "-c",
        "1",
        "-u",
        "2",
        "-d",
        "1s",
        "--cacert",
        &ca,
        &url(nginx.wrong_name),
    ]);
    assert!(out.status.success(), "a refused certificate is not fatal");
    assert!(errors_of(&r, "tls_cert") > 1, "{r:#}");
    assert_eq!(uint(&r, "requests"), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("tls_cert:").count(), 1, "{stderr}");
    assert!(stderr.contains("not valid for name"), "{stderr}");
    assert!(
        r["connections"]["first_errors"]["tls_cert"].is_string(),
        "{r:#}"
    );
    assert_eq!(schema_errors(&r), Vec::<String>::new());

    // The same server through --connect-to under the name its certificate has: trusted.
    let to = format!("wrong.example:443:127.0.0.1:{}", nginx.wrong_name);
    let (r, _) = run_blast(&[
        "-c",
        "1",
        "-u",
        "1",
        "-d",
        "1s",
        "--cacert",
        &ca,
        "--connect-to",
        &to,
        "https://wrong.example/health",
    ]);
    assert!(no_errors(&r) && uint(&r, "requests") > 10, "{r:#}");

    // --insecure accepts it, and the report says so.
    let (r, _) = run_blast(&[
        "-c",
        "1",
        "-u",
        "1",
        "-d",
        "1s",
        "-k",
        &url(nginx.wrong_name),
    ]);
    assert!(no_errors(&r) && uint(&r, "requests") > 10, "{r:#}");
    assert_eq!(r["plan"]["insecure"], true);
    assert_eq!(tls(&r)["insecure"], true);
}

#[test]
fn nginx_client_certificates_required() {
    let _g = support::shared();
    let pki = Pki::new();
    let nginx = Nginx::start(&pki);
    let ca = pki.file("ca.pem");
    let u = url(nginx.mtls);
    // Without one, nginx answers 400 ("No required SSL certificate was sent").
    let (r, _) = run_blast(&["-c", "1", "-u", "1", "-n", "5", "--cacert", &ca, &u]);
    assert_eq!(r["status_codes"]["400"], 5, "{r:#}");
    let (cert, key) = (pki.file("client.pem"), pki.file("client.key"));
    let (r, _) = run_blast(&[
        "-c", "1", "-u", "1", "-n", "5", "--cacert", &ca, "--cert", &cert, "--key", &key, &u,
    ]);
    assert_eq!(r["status_codes"]["200"], 5, "{r:#}");
    // A certificate from a CA nginx does not trust: refused by an alert, counted.
    let (cert, key) = (pki.file("stranger.pem"), pki.file("stranger.key"));
    let (r, _) = run_blast(&[
        "-c", "1", "-u", "1", "-n", "5", "--cacert", &ca, "--cert", &cert, "--key", &key, &u,
    ]);
    assert!(r["status_codes"]["200"].is_null(), "{r:#}");
    assert!(
        errors_of(&r, "tls_alert") + r["status_codes"]["400"].as_u64().unwrap_or(0) > 0,
        "{r:#}"
    );
}

#[test]
fn bad_tls_files_are_usage_errors_naming_the_file() {
    let pki = Pki::new();
    let junk = pki.file("junk.pem");
    std::fs::write(&junk, "junk\n").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--cacert", &junk], "--cacert"),
        (&["--cert", &pki.file("client.pem")], "--cert needs --key"),
        (
            &["--cert", &pki.file("client.pem"), "--key", &junk],
            "--key",
        ),
        (&["--cacert", "/nonexistent/ca.pem"], "/nonexistent/ca.pem"),
    ];
    for (flags, says) in cases {
        let mut args = flags.to_vec();
        args.push("https://127.0.0.1:9/");
        let out = blast(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// `blast serve` over TLS with a throwaway CA, on loopback: its scratch directory (keep it
/// alive), the CA's path for `--cacert`, and its address.
fn serve_tls(name: &str) -> (Scratch, String, std::net::SocketAddr) {
    let dir = Scratch::new(name);
    let (ca, cert, key) = blast::serve::tls::self_signed(&dir.0).unwrap();
    let cfg = blast::serve::ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        threads: 1,
    };
    let config = blast::serve::tls::server_config(&cert, &key).unwrap();
    let addr = blast::serve::spawn_tls(&cfg, config).unwrap();
    (dir, ca.to_string_lossy().into_owned(), addr)
}

#[test]
fn blast_serve_over_tls_runs_the_predict_scenario_clean() {
    let _g = support::shared();
    let (_dir, ca, addr) = serve_tls("serve-tls");
    let host = format!("https://localhost:{}", addr.port());
    let (r, _) = run_blast(&[
        "-s",
        "scenarios/predict-max.toml",
        "--host",
        &host,
        "--cacert",
        &ca,
        "-c",
        "1",
        "-u",
        "4",
        "-d",
        "1s",
    ]);
    assert!(no_errors(&r) && uint(&r, "requests") > 50, "{r:#}");
    let (r, _) = run_blast(&[
        "-s",
        "scenarios/predict-max.toml",
        "--host",
        &host,
        "--cacert",
        &ca,
        "-c",
        "1",
        "-u",
        "2",
        "-d",
        "1s",
        "--no-keepalive",
    ]);
    assert!(no_errors(&r) && uint(&r, "requests") > 10, "{r:#}");
    assert!(
        uint(&r, "connections_opened") >= uint(&r, "requests"),
        "{r:#}"
    );
}

/// A TCP server on a free port whose every connection is handled by `each` in a thread.
fn hostile(each: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let each = Arc::new(each);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let each = each.clone();
            thread::spawn(move || each(stream));
        }
    });
    port
}

/// Reads whatever the client sent first (its ClientHello).
fn read_hello(s: &mut TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf);
}

/// Runs blast for a second against `port` and checks the failures went under `kind`.
fn assert_counted(port: u16, kind: &str, extra: &[&str]) -> Value {
    let u = format!("https://127.0.0.1:{port}/");
    let mut args = vec!["-c", "1", "-u", "2", "-d", "1s", "-k"];
    args.extend_from_slice(extra);
    args.push(&u);
    let started = Instant::now();
    let (r, out) = run_blast(&args);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(errors_of(&r, kind) > 0, "expected {kind}: {r:#}");
    r
}

#[test]
fn hostile_servers_are_counted_never_fatal() {
    let _g = support::shared();
    // Plain HTTP in reply to a ClientHello.
    let plaintext = hostile(|mut s| {
        read_hello(&mut s);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    assert_counted(plaintext, "tls_protocol", &[]);
    // Closes mid-handshake.
    let closes = hostile(|mut s| {
        read_hello(&mut s);
        let _ = s.shutdown(Shutdown::Both);
    });
    assert_counted(closes, "tls_handshake", &[]);
    // Stalls the handshake past --connect-timeout.
    let stalls = hostile(|mut s| {
        read_hello(&mut s);
        thread::sleep(Duration::from_secs(3));
    });
    assert_counted(stalls, "tls_handshake", &["--connect-timeout", "200ms"]);
}

#[test]
fn a_record_cut_mid_body_is_counted() {
    let _g = support::shared();
    let dir = Scratch::new("cut");
    let (_, cert, key) = blast::serve::tls::self_signed(&dir.0).unwrap();
    let config = blast::serve::tls::server_config(&cert, &key).unwrap();
    let port = hostile(move |mut s| {
        let mut tls = rustls::ServerConnection::new(config.clone()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        while tls.is_handshaking() {
            if tls.complete_io(&mut s).is_err() {
                return;
            }
        }
        // Wait for the request, then answer with half of a record and close.
        let mut buf = [0u8; 4096];
        while tls.reader().read(&mut buf).is_err() {
            if tls.complete_io(&mut s).is_err() {
                return;
            }
        }
        let body = vec![b'x'; 8000];
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        tls.writer().write_all(head.as_bytes()).unwrap();
        tls.writer().write_all(&body).unwrap();
        let mut wire = Vec::new();
        while tls.wants_write() {
            tls.write_tls(&mut wire).unwrap();
        }
        let _ = s.write_all(&wire[..wire.len() - 3000]);
        let _ = s.shutdown(Shutdown::Both);
    });
    let r = assert_counted(port, "truncated", &[]);
    assert_eq!(uint(&r, "requests"), 0, "{r:#}");
}

#[test]
fn an_http_redirect_to_https_is_followed_with_the_new_origins_name_and_the_cacert() {
    let _g = support::shared();
    let (_dir, ca, https) = serve_tls("redirect-tls");
    // Only the https server answers 200: the plain one redirects every request there.
    let location = format!("https://localhost:{}/health", https.port());
    let plain = support::Server::start(move |_| {
        support::Reply::Send(
            format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
                .into_bytes(),
        )
    });
    let target = support::url(plain.addr, "/start");
    let run = |extra: &[&str]| {
        let mut args = vec![target.as_str(), "--follow", "2", "-n", "5", "-u", "1"];
        args.extend_from_slice(&["-c", "1"]);
        args.extend_from_slice(extra);
        run_blast(&args).0
    };
    let r = run(&["--cacert", &ca]);
    assert!(no_errors(&r), "{r:#}");
    assert_eq!(r["status_codes"]["200"], 5, "{r:#}");
    assert_eq!((plain.requests(), plain.accepted()), (5, 1), "{r:#}");
    // The certificate is checked against the new origin's name: without the CA, refused.
    let r = run(&[]);
    assert_eq!(errors_of(&r, "tls_cert"), 5, "{r:#}");
}
