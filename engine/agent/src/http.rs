//! The agent's HTTP endpoint (tiny_http, on its own thread): `/metrics`
//! for Prometheus and `/healthz`. The answers are made on the session's
//! thread, which owns the kernel maps: each request is handed over a
//! channel with a place for the reply, and the session answers it in its
//! next round (at most one ring poll away).

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// What a request asks the session for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    Metrics,
    Health,
}

/// The session's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// A request waiting for the session.
#[derive(Debug)]
pub struct Query {
    pub asked: Asked,
    pub reply: mpsc::Sender<Reply>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} for metrics: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// How long a request waits for the session before it is answered 503.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The running endpoint; dropping it stops the thread.
pub struct Endpoint {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    pub addr: SocketAddr,
}

impl Endpoint {
    /// Listens on `addr` (port 0 picks a free one; [`Endpoint::addr`] says
    /// which); the queries come out of the returned receiver.
    pub fn start(addr: SocketAddr) -> Result<(Endpoint, UnboundedReceiver<Query>), BindError> {
        let server = tiny_http::Server::http(addr).map_err(|source| BindError { addr, source })?;
        let bound = server.server_addr().to_ip().unwrap_or(addr);
        let server = Arc::new(server);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("ferret-http".into())
            .spawn(move || serve(&serving, &tx))
            .map_err(|source| BindError {
                addr,
                source: Box::new(source),
            })?;
        Ok((
            Endpoint {
                server,
                thread: Some(thread),
                addr: bound,
            },
            rx,
        ))
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(server: &tiny_http::Server, to_session: &UnboundedSender<Query>) {
    for request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("");
        let asked = match (request.method(), path) {
            (tiny_http::Method::Get, "/metrics") => Some(Asked::Metrics),
            (tiny_http::Method::Get, "/healthz" | "/health") => Some(Asked::Health),
            _ => None,
        };
        let reply = match asked {
            None => Reply {
                status: 404,
                content_type: "text/plain; charset=utf-8",
                body: "ferret serve: GET /metrics or /healthz\n".into(),
            },
            Some(asked) => ask(to_session, asked),
        };
        let header = tiny_http::Header::from_bytes("Content-Type", reply.content_type)
            .expect("a static content type is a valid header");
        let response = tiny_http::Response::from_string(reply.body)
            .with_status_code(reply.status)
            .with_header(header);
        // A client that went away is not the agent's problem.
        let _ = request.respond(response);
    }
}

fn ask(to_session: &UnboundedSender<Query>, asked: Asked) -> Reply {
    let (tx, rx) = mpsc::channel();
    let unavailable = |why: &str| Reply {
        status: 503,
        content_type: "text/plain; charset=utf-8",
        body: format!("ferret serve: {why}\n"),
    };
    if to_session.send(Query { asked, reply: tx }).is_err() {
        return unavailable("the session has ended");
    }
    rx.recv_timeout(ANSWER_WITHIN)
        .unwrap_or_else(|_| unavailable("the session did not answer in time"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn requests_are_answered_by_whoever_holds_the_receiver() {
        let (endpoint, mut rx) = Endpoint::start("127.0.0.1:0".parse().unwrap()).unwrap();
        let answering = std::thread::spawn(move || {
            while let Some(q) = rx.blocking_recv() {
                let body = format!("{:?}", q.asked);
                let _ = q.reply.send(Reply {
                    status: 200,
                    content_type: "text/plain",
                    body,
                });
            }
        });
        let addr = endpoint.addr;
        assert!(get(addr, "/metrics").ends_with("\r\n\r\nMetrics"));
        assert!(get(addr, "/healthz").ends_with("\r\n\r\nHealth"));
        assert!(get(addr, "/other").starts_with("HTTP/1.0 404"));
        drop(endpoint);
        answering.join().unwrap();
    }
}
