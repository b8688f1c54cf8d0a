//! TLS settings of a run: one rustls `ClientConfig`, built while the plan is validated and
//! shared read-only by every worker. Roots are the Mozilla set compiled in (webpki-roots)
//! plus `--cacert`; `--cert/--key` answer servers that ask for a client certificate;
//! `--insecure` skips verification (and every report says so); resumption is on unless
//! `--no-tls-resume`. Also names TLS failures with the error kinds reports count.
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{AlertDescription, ClientConfig, DigitallySignedStruct, RootCertStore};

use crate::results::kind;

/// The only application protocol blast speaks, offered by ALPN.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// What the user asked for, before the files are read.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// Extra trusted CA certificates (PEM bundle).
    pub cacert: Option<PathBuf>,
    /// Client certificate chain (PEM) and its key, for mTLS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Accept any server certificate.
    pub insecure: bool,
    /// Every connection runs a full handshake.
    pub no_resume: bool,
}

impl TlsOptions {
    /// True when any TLS flag was given (they make no sense with an http:// URL).
    pub fn any(&self) -> bool {
        self.cacert.is_some()
            || self.cert.is_some()
            || self.key.is_some()
            || self.insecure
            || self.no_resume
    }
}

/// The validated TLS side of a run.
#[derive(Debug)]
pub struct TlsClient {
    pub config: Arc<ClientConfig>,
    /// SNI and the name certificates are checked against: the URL's host.
    pub server_name: ServerName<'static>,
    pub insecure: bool,
    pub resume: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TlsError {
    /// A file named by a flag that cannot be used: (flag, path, what is wrong).
    File(&'static str, PathBuf, String),
    CertWithoutKey,
    KeyWithoutCert,
    ServerName(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::File(flag, path, why) => write!(f, "{flag} {}: {why}", path.display()),
            TlsError::CertWithoutKey => {
                write!(f, "--cert needs --key (the certificate's private key)")
            }
            TlsError::KeyWithoutCert => write!(f, "--key needs --cert (the client certificate)"),
            TlsError::ServerName(n) => write!(f, "{n:?} is not a valid TLS server name"),
        }
    }
}

impl std::error::Error for TlsError {}

impl TlsClient {
    /// Reads the files and builds the run's `ClientConfig` for a server named `server_name`.
    pub fn build(opts: &TlsOptions, server_name: &str) -> Result<TlsClient, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions");
        let builder = if opts.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        } else {
            builder.with_root_certificates(roots(opts.cacert.as_deref())?)
        };
        let mut config = match (&opts.cert, &opts.key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => return Err(TlsError::CertWithoutKey),
            (None, Some(_)) => return Err(TlsError::KeyWithoutCert),
            (Some(cert), Some(key)) => {
                let chain = certs("--cert", cert)?;
                let der = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| file_error("--key", key, &e.to_string()))?;
                builder
                    .with_client_auth_cert(chain, der)
                    .map_err(|e| file_error("--key", key, &e.to_string()))?
            }
        };
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        if opts.no_resume {
            config.resumption = Resumption::disabled();
        }
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| TlsError::ServerName(server_name.to_owned()))?;
        Ok(TlsClient {
            config: Arc::new(config),
            server_name,
            insecure: opts.insecure,
            resume: !opts.no_resume,
        })
    }
}

fn file_error(flag: &'static str, path: &Path, why: &str) -> TlsError {
    TlsError::File(flag, path.to_owned(), why.to_owned())
}

/// Every certificate in a PEM file; at least one.
fn certs(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(flag, path, &e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(flag, path, &e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(flag, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// The Mozilla roots, plus every certificate of `cacert`.
fn roots(cacert: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = cacert {
        for cert in certs("--cacert", path)? {
            store
                .add(cert)
                .map_err(|e| file_error("--cacert", path, &e.to_string()))?;
        }
    }
    Ok(store)
}

/// `--insecure`: any certificate is accepted, but the handshake's signatures are still
/// checked against the one presented (curl's `-k`).
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The error kind a TLS failure is counted under.
pub fn error_kind(e: &rustls::Error) -> &'static str {
    match e {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            kind::TLS_CERT
        }
        rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol) => kind::TLS_PROTOCOL,
        rustls::Error::AlertReceived(_) => kind::TLS_ALERT,
        _ => kind::TLS_PROTOCOL,
    }
}

/// What a report says about a TLS failure, once per kind.
pub fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol) => {
            "the server speaks no http/1.1 (ALPN no_application_protocol): an h2-only server; blast speaks HTTP/1.1".to_owned()
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("{e} (is the server speaking plain HTTP on this port?)")
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_without_key_is_refused_before_any_file_is_read() {
        let opts = TlsOptions {
            cert: Some("/nonexistent/cert.pem".into()),
            ..TlsOptions::default()
        };
        assert_eq!(
            TlsClient::build(&opts, "localhost").unwrap_err(),
            TlsError::CertWithoutKey
        );
    }

    #[test]
    fn a_bad_cacert_file_names_the_flag_and_the_file() {
        let dir = std::env::temp_dir().join(format!("blast-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        for path in [empty.clone(), dir.join("missing.pem")] {
            let opts = TlsOptions {
                cacert: Some(path.clone()),
                ..TlsOptions::default()
            };
            let e = TlsClient::build(&opts, "localhost")
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("--cacert ") && e.contains(&*path.to_string_lossy()),
                "{e}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn default_config_offers_http11_and_resumes() {
        let c = TlsClient::build(&TlsOptions::default(), "127.0.0.1").unwrap();
        assert_eq!(c.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(c.resume && !c.insecure);
    }

    #[test]
    fn failures_are_named_by_kind() {
        use rustls::CertificateError;
        let cert = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        assert_eq!(error_kind(&cert), "tls_cert");
        let alert = rustls::Error::AlertReceived(AlertDescription::CertificateRequired);
        assert_eq!(error_kind(&alert), "tls_alert");
        let h2 = rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol);
        assert_eq!(error_kind(&h2), "tls_protocol");
        assert!(describe(&h2).contains("h2"));
    }
}
