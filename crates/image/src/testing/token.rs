//! A bearer-token server for the test registry (Docker's token authentication): a std
//! `TcpListener` thread on loopback answering `GET /token?service=..&scope=..` with an
//! ES256 JWT that distribution 2.8 verifies against its `rootcertbundle`. The signing
//! certificate is self-signed and is itself the bundle. Every requested scope is granted;
//! with credentials set the server first demands them as HTTP basic auth. Requests are
//! recorded so tests can see that the bearer flow ran.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{CertificateParams, KeyPair, SigningKey};
use serde_json::json;

/// The `service` the registry expects in a token's `aud`.
pub const SERVICE: &str = "keel-registry";
/// The `iss` of every token, trusted by the registry.
pub const ISSUER: &str = "keel-test";
/// How long an issued token is valid.
const TOKEN_LIFETIME: Duration = Duration::from_secs(300);
/// Back-dating of `nbf`, against clock skew.
const LEEWAY: Duration = Duration::from_secs(60);
const MAX_HEAD: usize = 64 * 1024;

/// One request the token server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The user name of the request's basic credentials, if it carried any.
    pub account: Option<String>,
    /// The requested scopes (`repository:busybox:pull`), in order.
    pub scopes: Vec<String>,
    /// Whether a token was issued (otherwise the answer was 401).
    pub granted: bool,
}

/// A running token server; stopped on drop.
pub struct TokenServer {
    /// `http://127.0.0.1:<port>/token`, the registry's `realm`.
    pub realm: String,
    /// The signing certificate (PEM), the registry's `rootcertbundle`.
    pub cert: PathBuf,
    addr: SocketAddr,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

struct State {
    key: KeyPair,
    cert_der: Vec<u8>,
    credentials: Option<(String, String)>,
    requests: Mutex<Vec<TokenRequest>>,
    stop: AtomicBool,
    issued: AtomicU64,
}

impl TokenServer {
    /// Starts a server writing its certificate to `dir/token-cert.pem`; with
    /// `credentials`, only requests carrying them get a token.
    pub fn start(dir: &Path, credentials: Option<(String, String)>) -> TokenServer {
        let key = KeyPair::generate().expect("token signing key");
        let params = CertificateParams::new(vec!["keel-token".to_string()]).expect("params");
        let cert = params.self_signed(&key).expect("token certificate");
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let cert_path = dir.join("token-cert.pem");
        fs::write(&cert_path, cert.pem()).expect("write token certificate");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token server");
        let addr = listener.local_addr().expect("token server address");
        let state = Arc::new(State {
            key,
            cert_der: cert.der().to_vec(),
            credentials,
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            issued: AtomicU64::new(0),
        });
        let serving = state.clone();
        let thread = std::thread::spawn(move || serve(listener, serving));
        TokenServer {
            realm: format!("http://{addr}/token"),
            cert: cert_path,
            addr,
            state,
            thread: Some(thread),
        }
    }

    /// The requests answered so far, oldest first.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state.requests.lock().expect("token requests").clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: TcpListener, state: Arc<State>) {
    for stream in listener.incoming() {
        if state.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let state = state.clone();
        std::thread::spawn(move || {
            let _ = handle(stream, &state);
        });
    }
}

/// Answers one request and closes the connection.
fn handle(mut stream: TcpStream, state: &State) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let head = read_head(&mut stream)?;
    let (status, headers, body) = state.answer(&head);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n{headers}\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

/// The request line and headers (a token request has no body).
fn read_head(stream: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut buf = [0; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

impl State {
    /// (status line, extra header lines, JSON body) for a request head.
    fn answer(&self, head: &str) -> (&'static str, String, String) {
        let mut lines = head.split("\r\n");
        let target = lines.next().unwrap_or_default().split(' ').nth(1);
        let Some(query) = target.and_then(|t| t.strip_prefix("/token")) else {
            return (
                "404 Not Found",
                String::new(),
                error_body("NOT_FOUND", "no such path"),
            );
        };
        let scopes = scopes(query.strip_prefix('?').unwrap_or_default());
        let basic = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| basic_credentials(value.trim()));
        let granted = match &self.credentials {
            Some(required) => basic.as_ref() == Some(required),
            None => true,
        };
        self.requests
            .lock()
            .expect("token requests")
            .push(TokenRequest {
                account: basic.as_ref().map(|(user, _)| user.clone()),
                scopes: scopes.clone(),
                granted,
            });
        if !granted {
            let challenge = "WWW-Authenticate: Basic realm=\"keel-token\"\r\n".to_string();
            let body = error_body("UNAUTHORIZED", "credentials rejected by the token server");
            return ("401 Unauthorized", challenge, body);
        }
        let subject = basic.map_or_else(|| "anonymous".to_string(), |(user, _)| user);
        let token = self.jwt(&subject, &scopes);
        let body = json!({
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_LIFETIME.as_secs(),
        });
        ("200 OK", String::new(), body.to_string())
    }

    /// A JWT for `subject` granting `scopes`, as distribution's token auth verifies it:
    /// ES256 over `header.claims`, the signing certificate in `x5c`, `r || s` signature.
    fn jwt(&self, subject: &str, scopes: &[String]) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970");
        let jti = self.issued.fetch_add(1, Ordering::Relaxed);
        let header =
            json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&self.cert_der)]});
        let claims = json!({
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": (now + TOKEN_LIFETIME).as_secs(),
            "nbf": (now - LEEWAY).as_secs(),
            "iat": (now - LEEWAY).as_secs(),
            "jti": format!("keel-{}-{jti}", std::process::id()),
            "access": access(scopes),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let der = self.key.sign(signing_input.as_bytes()).expect("sign token");
        let signature = raw_signature(&der);
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn error_body(code: &str, message: &str) -> String {
    json!({"errors": [{"code": code, "message": message}]}).to_string()
}

/// The `scope` parameters of a query string; one parameter may hold several,
/// space-separated.
fn scopes(query: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| *name == "scope")
        .flat_map(|(_, value)| {
            let value = percent_decode(value);
            value
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The `access` claim granting every scope: `repository:team/app:pull,push` becomes
/// `{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}`.
fn access(scopes: &[String]) -> serde_json::Value {
    let entries: Vec<_> = scopes
        .iter()
        .filter_map(|scope| {
            let (kind, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
            Some(json!({"type": kind, "name": name, "actions": actions}))
        })
        .collect();
    json!(entries)
}

/// (user, password) of a `Basic <base64>` header value.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Decodes `%XX` escapes and `+` (a space) of a query value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The JWS form (`r || s`, 32 bytes each) of a DER ECDSA P-256 signature
/// `SEQUENCE { INTEGER r, INTEGER s }` (short lengths: at most 70 bytes in all).
fn raw_signature(der: &[u8]) -> [u8; 64] {
    assert_eq!(der.first(), Some(&0x30), "DER signature is a SEQUENCE");
    let mut rest = &der[2..];
    let mut raw = [0; 64];
    for half in raw.chunks_mut(32) {
        assert_eq!(rest[0], 0x02, "DER signature holds INTEGERs");
        let len = usize::from(rest[1]);
        let int = &rest[2..2 + len];
        let int = &int[int.iter().take_while(|b| **b == 0).count()..];
        assert!(int.len() <= 32, "P-256 integer longer than 32 bytes");
        half[32 - int.len()..].copy_from_slice(int);
        rest = &rest[2 + len..];
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_signatures_become_fixed_width() {
        // r with a sign-padding zero (33 bytes), s short (31 bytes).
        let r: Vec<u8> = std::iter::once(0).chain([0x80; 32]).collect();
        let s = [0x01; 31];
        let mut der = vec![0x30, (4 + r.len() + s.len()) as u8, 0x02, r.len() as u8];
        der.extend(&r);
        der.extend([0x02, s.len() as u8]);
        der.extend(s);
        let raw = raw_signature(&der);
        assert_eq!(raw[..32], [0x80; 32]);
        assert_eq!(raw[32], 0);
        assert_eq!(raw[33..], [0x01; 31]);
    }

    #[test]
    fn scopes_are_decoded_split_and_granted() {
        let query = "service=keel-registry&scope=repository%3Ateam%2Fapp%3Apull%2Cpush\
                     &scope=repository:base:pull+registry:catalog:*";
        let scopes = scopes(query);
        assert_eq!(
            scopes,
            [
                "repository:team/app:pull,push",
                "repository:base:pull",
                "registry:catalog:*"
            ]
        );
        let expected = json!([
            {"type": "repository", "name": "team/app", "actions": ["pull", "push"]},
            {"type": "repository", "name": "base", "actions": ["pull"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]},
        ]);
        assert_eq!(access(&scopes), expected);
    }

    #[test]
    fn basic_credentials_are_parsed() {
        assert_eq!(
            basic_credentials("Basic a2VlbDpzM2NyZXQ="),
            Some(("keel".to_string(), "s3cret".to_string()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
    }
}
