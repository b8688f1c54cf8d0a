//! `blast serve` over TLS: a rustls server configuration from `--tls-cert/--tls-key` PEM
//! files, or a throwaway CA and a certificate it signed for localhost (`--self-signed`),
//! written where the user can pass the CA to `--cacert`.
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Names the self-signed certificate is valid for.
pub const SELF_SIGNED_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];
/// The CA file `--self-signed` writes, for the client's `--cacert`.
pub const CA_FILE: &str = "ca.pem";
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";

/// The server side of TLS from PEM files (offers http/1.1 by ALPN).
pub fn server_config(cert: &Path, key: &Path) -> io::Result<Arc<ServerConfig>> {
    let named = |path: &Path, e: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {e}", path.display()),
        )
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| named(cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| named(cert, &e))?;
    if chain.is_empty() {
        return Err(named(cert, &"no PEM certificate in it"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| named(key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| named(key, &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Writes a new CA and a certificate it signed for [`SELF_SIGNED_NAMES`] into `dir`;
/// returns the paths of (CA, certificate, key).
pub fn self_signed(dir: &Path) -> io::Result<(PathBuf, PathBuf, PathBuf)> {
    let fail = |e: rcgen::Error| io::Error::other(format!("generating a certificate: {e}"));
    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "blast serve throwaway CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(fail)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|s| s.to_string()).collect();
    let leaf_key = KeyPair::generate().map_err(fail)?;
    let leaf = CertificateParams::new(names)
        .map_err(fail)?
        .signed_by(&leaf_key, &issuer)
        .map_err(fail)?;
    std::fs::create_dir_all(dir)?;
    let paths = (dir.join(CA_FILE), dir.join(CERT_FILE), dir.join(KEY_FILE));
    std::fs::write(&paths.0, ca_cert.pem())?;
    std::fs::write(&paths.1, leaf.pem())?;
    std::fs::write(&paths.2, leaf_key.serialize_pem())?;
    Ok(paths)
}
