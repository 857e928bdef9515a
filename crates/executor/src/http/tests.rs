//! Tests of the HTTP client: URL handling and response parsing on fixed bytes, then real
//! requests to tiny servers on 127.0.0.1 (plain, and TLS with a self-signed certificate).

use super::response::{Body, HeadError, parse_chunk_size, read_head};
use super::*;
use std::io::{BufRead, Cursor};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// Parses `raw` as a response and renders `status reason | headers | body` (or the error).
fn check_response(raw: &str, expect: &str) {
    let mut reader = Cursor::new(raw.as_bytes().to_vec());
    let got = match read_head(&mut reader) {
        Err(e) => format!("error: {e}"),
        Ok(head) => match head.framing() {
            Err(e) => format!("error: {e}"),
            Ok(framing) => {
                let headers: Vec<String> = head
                    .headers
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect();
                let mut body = String::new();
                let read = Body::new(&mut reader, framing).read_to_string(&mut body);
                let body = read.map_or_else(|e| format!("error: {e}"), |_| body);
                format!(
                    "{} | {} | {framing:?} {body:?}",
                    head.status_text(),
                    headers.join(" ")
                )
            }
        },
    };
    assert_eq!(got, expect);
}

#[test]
fn content_length_bodies() {
    check_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhelloEXTRA",
        r#"200 OK | content-length=5 x-a=b | Length(5) "hello""#,
    );
    check_response(
        "HTTP/1.0 404 Not Found\nContent-Length: 3\n\nabc",
        r#"404 Not Found | content-length=3 | Length(3) "abc""#,
    );
    check_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        r#"200 OK | content-length=10 | Length(10) "error: connection closed with 5 body bytes still to come""#,
    );
    check_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "error: conflicting Content-Length headers",
    );
}

#[test]
fn chunked_bodies() {
    check_response(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: t\r\n\r\nNEXT",
        r#"200 OK | transfer-encoding=chunked content-length=99 | Chunked "hello, world""#,
    );
    check_response(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        r#"200 OK | transfer-encoding=chunked | Chunked "error: connection closed with 2 body bytes still to come""#,
    );
    check_response(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        r#"200 OK | transfer-encoding=chunked | Chunked "error: bad chunk size \"zz\"""#,
    );
    assert_eq!(parse_chunk_size("1A"), Some(26));
    assert_eq!(parse_chunk_size("0 ; ext"), Some(0));
    assert_eq!(parse_chunk_size(""), None);
    assert_eq!(parse_chunk_size("11111111111111111"), None);
}

#[test]
fn bodies_without_framing() {
    check_response(
        "HTTP/1.1 200 OK\r\n\r\nuntil close",
        r#"200 OK |  | UntilClose "until close""#,
    );
    check_response(
        "HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\n",
        r#"204 No Content | content-length=4 | Empty """#,
    );
    check_response("HTTP/1.1 100\r\n\r\n", r#"100 |  | Empty """#);
}

#[test]
fn broken_heads() {
    check_response(
        "",
        "error: connection closed before a complete response head",
    );
    check_response(
        "HTTP/1.1 200 OK\r\nX: y",
        "error: connection closed before a complete response head",
    );
    check_response(
        "SSH-2.0-OpenSSH\r\n\r\n",
        r#"error: invalid status line "SSH-2.0-OpenSSH""#,
    );
    check_response(
        "HTTP/1.1 2000 OK\r\n\r\n",
        r#"error: invalid status line "HTTP/1.1 2000 OK""#,
    );
    check_response(
        "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        r#"error: invalid header line "no colon""#,
    );
    let huge = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(70_000));
    let mut reader = Cursor::new(huge.into_bytes());
    assert!(matches!(read_head(&mut reader), Err(HeadError::TooLarge)));
}

#[test]
fn urls() {
    let show = |text: &str| match Url::parse(text) {
        Ok(url) => format!(
            "{url} host={} port={} target={}",
            url.host,
            url.port,
            url.target()
        ),
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(
        show("http://a.b/c?d#e"),
        "http://a.b/c?d host=a.b port=80 target=/c?d"
    );
    assert_eq!(
        show("https://a:8443"),
        "https://a:8443/ host=a port=8443 target=/"
    );
    assert_eq!(
        show("http://[::1]:81/x"),
        "http://[::1]:81/x host=::1 port=81 target=/x"
    );
    assert_eq!(show("http://h?q"), "http://h/?q host=h port=80 target=/?q");
    assert_eq!(
        show("http://u:p@h/"),
        r#"error: invalid URL "http://u:p@h/": user info in URLs is not supported"#
    );
    assert_eq!(
        show("http://h:99999/"),
        r#"error: invalid URL "http://h:99999/": invalid port"#
    );
    assert_eq!(
        show("ftp://h/"),
        r#"error: invalid URL "ftp://h/": not an http:// or https:// URL"#
    );
    assert_eq!(
        show("http:///x"),
        r#"error: invalid URL "http:///x": no host"#
    );
}

#[test]
fn redirect_locations() {
    let base = Url::parse("https://h:8443/a/b/c?q").expect("url");
    let join = |loc: &str| {
        base.join(loc)
            .map(|u| u.to_string())
            .unwrap_or_else(|e| e.to_string())
    };
    assert_eq!(join("http://o/x"), "http://o/x");
    assert_eq!(join("//o/x"), "https://o/x");
    assert_eq!(join("/x?y"), "https://h:8443/x?y");
    assert_eq!(join("d"), "https://h:8443/a/b/d");
}

/// Serves each of `responses` to one connection in turn (after reading the request head);
/// returns the base URL.
fn serve(responses: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for response in responses {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            read_request(&mut stream);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn read_request(stream: &mut (impl Read + Write)) {
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
        line.clear();
    }
}

fn limits() -> Limits {
    Limits::total(Duration::from_secs(10))
}

#[test]
fn follows_redirects_and_reads_chunked_bodies() {
    let base = serve(vec![
        "HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: 0\r\n\r\n".into(),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".into(),
    ]);
    let url = Url::parse(&format!("{base}/start")).expect("url");
    let mut response = get_following(&url, &TlsMode::insecure(), &limits()).expect("get");
    let mut body = String::new();
    response.read_to_string(&mut body).expect("body");
    assert_eq!((response.head.status, body.as_str()), (200, "abc"));
    assert_eq!(response.url.path(), "/final");
}

#[test]
fn a_redirect_loop_ends() {
    let loops =
        vec!["HTTP/1.1 301 Moved\r\nLocation: /again\r\n\r\n".to_string(); MAX_REDIRECTS + 1];
    let url = Url::parse(&serve(loops)).expect("url");
    let err = get_following(&url, &TlsMode::insecure(), &limits()).err();
    assert!(
        matches!(err, Some(HttpError::TooManyRedirects { .. })),
        "{err:?}"
    );
}

#[test]
fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url =
        Url::parse(&format!("http://{}/", listener.local_addr().expect("addr"))).expect("url");
    let started = std::time::Instant::now();
    let err = get(
        &url,
        &TlsMode::insecure(),
        &Limits::total(Duration::from_millis(300)),
    )
    .err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.starts_with("cannot read the response of http://127.0.0.1:"),
        "{msg}"
    );
    drop(listener);
}

/// A self-signed certificate for `localhost`: (cert PEM, server config).
fn tls_server_config() -> (String, Arc<rustls::ServerConfig>) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let cert_der = key.cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .expect("server config");
    (key.cert.pem(), Arc::new(config))
}

/// Serves `body` over TLS to `connections` connections; returns the port.
fn serve_tls(config: Arc<rustls::ServerConfig>, connections: usize, body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((tcp, _)) = listener.accept() else {
                return;
            };
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            read_request(&mut tls);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(response.as_bytes());
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    port
}

#[test]
fn https_verifies_against_the_given_cas_or_not_at_all() {
    let (pem, config) = tls_server_config();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, pem).expect("write ca");
    let port = serve_tls(config, 3, "secret");
    let url = Url::parse(&format!("https://localhost:{port}/")).expect("url");

    let mut response = get(&url, &TlsMode::verified(&ca_file), &limits()).expect("verified get");
    let mut body = String::new();
    response.read_to_string(&mut body).expect("body");
    assert_eq!(body, "secret");

    let insecure = get(&url, &TlsMode::insecure(), &limits()).map(|r| r.head.status);
    assert_eq!(insecure.ok(), Some(200));

    let (other_pem, _) = tls_server_config();
    let other_ca = dir.path().join("other.pem");
    std::fs::write(&other_ca, other_pem).expect("write other ca");
    let wrong = TlsMode::verified(&other_ca);
    let msg = get(&url, &wrong, &limits())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.starts_with("TLS with localhost failed: invalid peer certificate"),
        "{msg}"
    );
}
