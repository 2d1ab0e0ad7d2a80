//! The JSON entry point of the query engine served over HTTP with `tiny_http`, to show that the transport is
//! the host's choice: the whole integration is `engine.handle_json(body)`.
//!
//! ```text
//! cargo run --example http_service -- [--port 8080] [--self-test]
//! curl -s localhost:8080/query -d '{"kind": "complementary", "products": [], "context": {"basket": ["milk"]}}'
//! ```
//!
//! It builds a tiny in-memory shop and analyses it with the popularity model, so it runs standalone.
//! `--self-test` starts the server on a free port, sends itself a few requests, prints the answers and exits.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use clerk::api::QueryEngine;
use clerk::core::domain::{Order, OrderLine, Product, Timestamp};
use clerk::core::{Dataset, PopularityModel};
use clerk::{DataStore, IntentModel, MemoryStore};
use futures::executor::block_on;
use tiny_http::{Header, Method, Response, Server};

/// A shop of six products and a few orders.
async fn shop() -> Result<Arc<MemoryStore>, Box<dyn std::error::Error>> {
    let store = Arc::new(MemoryStore::new());
    let product = |id: &str, cat: &str, price: f64| {
        let mut p = Product::new(id);
        p.name = id.replace('_', " ");
        p.categories = vec![cat.into()];
        p.price = Some(price);
        p
    };
    store
        .upsert_products(vec![
            product("milk", "dairy", 1.2),
            product("butter", "dairy", 2.5),
            product("bread", "bakery", 2.0),
            product("croissant", "bakery", 1.5),
            product("jam", "spreads", 3.0),
            product("honey", "spreads", 4.5),
        ])
        .await?;
    let baskets: [(&str, &str, &[&str]); 6] = [
        ("alice", "2024-05-01 09:00:00", &["milk", "bread", "jam"]),
        ("alice", "2024-05-08 09:00:00", &["milk", "bread"]),
        ("bob", "2024-05-02 18:00:00", &["bread", "butter", "honey"]),
        ("bob", "2024-05-09 18:00:00", &["milk", "croissant"]),
        ("carol", "2024-05-03 12:00:00", &["croissant", "jam", "milk"]),
        ("dave", "2024-05-04 08:30:00", &["bread", "butter"]),
    ];
    let mut orders = Vec::new();
    for (i, (customer, time, lines)) in baskets.iter().enumerate() {
        let mut o = Order::new(format!("o{i}"), Some((*customer).into()), Timestamp::parse(time)?);
        o.lines = lines.iter().map(|p| OrderLine::new(*p, 1.0)).collect();
        orders.push(o);
    }
    store.append_orders(orders).await?;
    Ok(store)
}

fn serve(server: &Server, engine: &QueryEngine) {
    for mut request in server.incoming_requests() {
        let (status, body) = if request.method() != &Method::Post || request.url() != "/query" {
            (404, r#"{"error": {"kind": "not_found", "message": "POST a JSON request to /query"}}"#.to_owned())
        } else {
            let mut body = String::new();
            match request.as_reader().take(clerk::api::json::MAX_REQUEST_BYTES as u64 + 1).read_to_string(&mut body) {
                // The one line of glue: JSON in, JSON out.
                Ok(_) => (200, block_on(engine.handle_json(&body))),
                Err(e) => (400, format!(r#"{{"error": {{"kind": "malformed", "message": "{e}"}}}}"#)),
            }
        };
        let status = if status == 200 && body.starts_with("{\"error\"") { 400 } else { status };
        let mut response = Response::from_string(body).with_status_code(status);
        if let Ok(h) = Header::from_bytes("Content-Type", "application/json") {
            response = response.with_header(h);
        }
        if let Err(e) = request.respond(response) {
            eprintln!("respond: {e}");
        }
    }
}

/// Sends one request over a plain socket (no HTTP client crate needed) and returns the response body.
fn post(addr: std::net::SocketAddr, body: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "POST /query HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or(out))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let self_test = args.iter().any(|a| a == "--self-test" || a == "--once");
    let port: u16 = match args.iter().position(|a| a == "--port") {
        Some(i) => args.get(i + 1).ok_or("--port needs a number")?.parse()?,
        None if self_test => 0,
        None => 8080,
    };

    let engine = block_on(async {
        let store = shop().await?;
        let model = PopularityModel::new().analyse(&Dataset::from_store(&*store).await?)?;
        let store: Arc<dyn DataStore> = store;
        Ok::<_, Box<dyn std::error::Error>>(QueryEngine::new(store, model).await?)
    })?;

    let server = Arc::new(Server::http(("127.0.0.1", port)).map_err(|e| e.to_string())?);
    let addr = server.server_addr().to_ip().ok_or("not an IP listener")?;
    println!("clerk query engine listening on http://{addr}/query (POST a JSON request)");

    if !self_test {
        serve(&server, &engine);
        return Ok(());
    }
    let worker = {
        let (server, engine) = (server.clone(), engine.clone());
        std::thread::spawn(move || serve(&server, &engine))
    };
    for body in [
        r#"{"kind": "popular", "limit": 3}"#,
        r#"{"kind": "complementary", "products": [], "context": {"basket": ["milk"]}, "filter": "price < 4", "limit": 3}"#,
        r#"{"kind": "customer_picks", "customer": "alice", "limit": 3, "include_product_data": true}"#,
        r#"{"kind": "audience", "product": "bread", "segment": "not_purchased"}"#,
        r#"{"kind": "popular", "filter": "price >"}"#,
    ] {
        println!("> {body}\n< {}", post(addr, body)?);
    }
    server.unblock();
    worker.join().map_err(|_| "server thread panicked")?;
    Ok(())
}
