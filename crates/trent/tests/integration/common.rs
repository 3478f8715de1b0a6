use aws_sdk_kms::Client;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const ACCESS_KEY: &str = "AKIATRENTTESTKEY0001";
pub const SECRET_KEY: &str = "trent-test-secret-access-key-0000000000001";
pub const ACCOUNT: &str = "111122223333";

/// A running `trent serve`, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server on a fresh data directory.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Server::start_in(dir.path(), &[]);
        server._dir = Some(dir);
        server
    }

    /// Starts a server on `data_dir` (which the caller keeps), with extra
    /// arguments to `serve`.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_with(data_dir, extra, &[])
    }

    /// [`Server::start_in`] with variables set in the server's environment.
    pub fn start_with(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = serve_command(data_dir, extra, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn trent");
        // The first line on stdout names the bound address; no polling.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server {
            child,
            url,
            _dir: None,
        }
    }

    pub fn client(&self) -> Client {
        self.client_with(ACCESS_KEY, SECRET_KEY, "us-east-1")
    }

    pub fn client_with(&self, access_key: &str, secret: &str, region: &str) -> Client {
        Client::from_conf(self.config(access_key, secret, region).build())
    }

    /// The bootstrap identity's client, its configuration changed by `f`.
    pub fn client_configured(
        &self,
        f: impl FnOnce(aws_sdk_kms::config::Builder) -> aws_sdk_kms::config::Builder,
    ) -> Client {
        Client::from_conf(f(self.config(ACCESS_KEY, SECRET_KEY, "us-east-1")).build())
    }

    fn config(&self, access_key: &str, secret: &str, region: &str) -> aws_sdk_kms::config::Builder {
        let credentials = aws_credential_types::Credentials::from_keys(access_key, secret, None);
        aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(region.to_owned()))
            .endpoint_url(&self.url)
            .credentials_provider(credentials)
    }

    /// The server's process id (for `trent bench --pid`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "trent exited with {exit}");
    }

    /// Waits for the server to exit on its own (after a signal sent with
    /// `kill`), for at most `within`; `None` if it is still running.
    pub fn wait_exit(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if started.elapsed() > within {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Stops the server the hard way, as a crash would.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// `trent serve` on a free port over `data_dir`, with the bootstrap
/// credentials and `env`, and no other TRENT_* variable.
pub fn serve_command(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trent"));
    // Every option of `serve` is also a TRENT_* variable: a server under
    // test takes its options from the test alone.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("TRENT_")) {
            command.env_remove(name);
        }
    }
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--account-id",
            ACCOUNT,
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .env("TRENT_BOOTSTRAP_ACCESS_KEY_ID", ACCESS_KEY)
        .env("TRENT_BOOTSTRAP_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("TRENT_LOG", "warn")
        .envs(env.iter().copied());
    command
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The AWS error code (`__type`) of an SDK error.
pub fn code<E, R>(err: &aws_sdk_kms::error::SdkError<E, R>) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("not a service error: {err:?}"))
}

pub fn message<E, R>(err: &aws_sdk_kms::error::SdkError<E, R>) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_owned()
}

pub async fn new_key(client: &Client) -> String {
    client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

impl Server {
    /// Moves the lifecycle clock of a server started with
    /// `--unsafe-test-clock` forward, running what falls due.
    /// Moves the server's lifecycle clock (`--unsafe-test-clock`) and runs
    /// what fell due; returns how many rotations and deletions it did.
    pub fn advance_clock(&self, seconds: i64) -> usize {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "POST /_trent/clock/advance?seconds={seconds} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let (_, body) = response.split_once("\"processed\":").expect("a count");
        body.trim_end_matches(['}', '\r', '\n']).parse().unwrap()
    }
}

/// Creates another account in the server's data directory (and the store
/// `extra` names, e.g. `--database-url`) with `trent account create`,
/// returning its root access key and secret.
pub fn create_account_in(data_dir: &Path, extra: &[&str], account: &str) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["account", "create", "--account-id", account, "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("TRENT_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .map(|v| v.trim_start_matches([' ', '=']).to_owned())
            })
            .unwrap()
    };
    (value("aws_access_key_id"), value("aws_secret_access_key"))
}

/// [`create_account_in`] a server's SQLite data directory.
pub fn create_account(data_dir: &Path, account: &str) -> (String, String) {
    create_account_in(data_dir, &[], account)
}

/// An IAM call (the AWS Query protocol) signed with the bootstrap access
/// key: the HTTP status and the XML answer.
pub fn iam(server: &Server, params: &[(&str, &str)]) -> (u16, String) {
    use std::io::{Read, Write};
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let body = params
        .iter()
        .chain(&[("Version", "2010-05-08")])
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let addr = server.url.trim_start_matches("http://");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let amz_date = trent_sigv4::format_amz_date(now);
    const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
    let (parts, ()) = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", addr)
        .header("content-type", CONTENT_TYPE)
        .header("x-amz-date", &amz_date)
        .body(())
        .unwrap()
        .into_parts();
    let key =
        trent_sigv4::SigningKey::derive(SECRET_KEY.as_bytes(), &amz_date[..8], "us-east-1", "iam");
    let authorization = trent_sigv4::sign(
        &trent_sigv4::RequestParts::from_http(&parts, body.as_bytes()),
        ACCESS_KEY,
        &key,
        "us-east-1",
        "iam",
        &amz_date,
    );
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {CONTENT_TYPE}\r\nX-Amz-Date: {amz_date}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    (status, response)
}

/// A new IAM user of the bootstrap account, with `policy` as its one inline
/// policy if given: its access key id and secret, and its ARN.
pub fn iam_user_keys(
    server: &Server,
    name: &str,
    policy: Option<&str>,
) -> (String, String, String) {
    let (status, answer) = iam(server, &[("Action", "CreateUser"), ("UserName", name)]);
    assert_eq!(status, 200, "{answer}");
    if let Some(policy) = policy {
        let (status, answer) = iam(
            server,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "p"),
                ("PolicyDocument", policy),
            ],
        );
        assert_eq!(status, 200, "{answer}");
    }
    let (status, answer) = iam(server, &[("Action", "CreateAccessKey"), ("UserName", name)]);
    assert_eq!(status, 200, "{answer}");
    (
        xml_value(&answer, "AccessKeyId"),
        xml_value(&answer, "SecretAccessKey"),
        format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
    )
}

/// [`iam_user_keys`], as a client with the user's access key.
pub fn iam_user(server: &Server, name: &str, policy: Option<&str>) -> (Client, String) {
    let (access, secret, arn) = iam_user_keys(server, name, policy);
    (server.client_with(&access, &secret, "us-east-1"), arn)
}

/// The text of the first `<TAG>…</TAG>` in `xml`.
pub fn xml_value(xml: &str, tag: &str) -> String {
    let start = xml
        .find(&format!("<{tag}>"))
        .unwrap_or_else(|| panic!("no {tag}: {xml}"))
        + tag.len()
        + 2;
    let end = start + xml[start..].find(&format!("</{tag}>")).unwrap();
    xml[start..end].to_owned()
}

/// `GET path` of a server over plain HTTP/1.1: the status, the head (status
/// line and headers) and the body.
pub async fn http_get(server: &Server, path: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = server.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: trent\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        answer[9..12].parse().unwrap(),
        head.to_owned(),
        body.to_owned(),
    )
}
