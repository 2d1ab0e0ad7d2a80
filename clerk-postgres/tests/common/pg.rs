//! A throwaway PostgreSQL server for tests and benchmarks: a cluster made by `initdb` in a temporary folder,
//! started by `pg_ctl` on a free loopback port, stopped and removed when dropped.
//!
//! The binaries are looked up in `$PG_BIN`, then `/usr/lib/postgresql/<newest>/bin` (Debian's layout), then
//! `PATH`. `initdb` refuses to run as root: as root the server runs as the `postgres` user (`runuser`).

#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running throwaway server.
pub struct PgServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    run_as: Option<String>,
}

/// Settings of the throwaway server.
#[derive(Clone, Copy, Debug)]
pub enum Durability {
    /// `fsync=off`: fast, for tests (a crash of the machine may lose the cluster, which is thrown away anyway).
    Off,
    /// The server's defaults, for benchmarks.
    Default,
}

fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).find(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
    })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl PgServer {
    /// Starts a server, or says why it cannot (no binaries, no `postgres` user as root, `initdb` failed).
    pub fn start(durability: Durability) -> Result<PgServer, String> {
        let bin = find_bin().ok_or(
            "PostgreSQL binaries (initdb, pg_ctl) not found; install them with \
             `apt-get install postgresql` or set PG_BIN",
        )?;
        let run_as = if is_root() {
            let ok = Command::new("id").arg("postgres").output().is_ok_and(|o| o.status.success());
            if !ok {
                return Err("running as root and there is no `postgres` user to run the server as".into());
            }
            Some("postgres".to_owned())
        } else {
            None
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("clerk-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let server = PgServer { bin, dir, port: free_port()?, run_as };
        server.run("mkdir", &["-p", &server.dir.display().to_string()])?;
        let data = server.data().display().to_string();
        server.run_bin("initdb", &["-D", &data, "-U", "clerk", "--auth=trust", "-E", "UTF8", "--no-sync"])?;
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=50",
            server.port,
            server.dir.display()
        );
        if let Durability::Off = durability {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let log = server.dir.join("server.log").display().to_string();
        server
            .run_bin("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start"])
            .map_err(|e| format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()))?;
        Ok(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run_bin(&self, name: &str, args: &[&str]) -> Result<(), String> {
        self.run(&self.bin.join(name).display().to_string(), args)
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", program]);
                c
            }
            None => Command::new(program),
        };
        // The server user may not be allowed into the caller's working folder.
        let out = cmd.args(args).current_dir(std::env::temp_dir()).output().map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for database `db` as user `clerk` (no password: the cluster trusts loopback).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://clerk@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name`.
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        let port = self.port.to_string();
        self.run_bin("createdb", &["-h", "127.0.0.1", "-p", &port, "-U", "clerk", name])
    }

    /// Runs `sql` in database `db` with `psql`.
    pub fn psql(&self, db: &str, sql: &str) -> Result<(), String> {
        let port = self.port.to_string();
        self.run_bin(
            "psql",
            &["-h", "127.0.0.1", "-p", &port, "-U", "clerk", "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql],
        )
    }

    /// The server's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = self.run_bin("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts a server for a test, or prints why not and returns `None` (the test then passes without checking
/// anything). With `CLERK_REQUIRE_POSTGRES=1` (as `.ci/run` sets) a missing server is a failure instead.
pub fn server_or_skip(test: &str) -> Option<PgServer> {
    match PgServer::start(Durability::Off) {
        Ok(s) => Some(s),
        Err(reason) if std::env::var_os("CLERK_REQUIRE_POSTGRES").is_some_and(|v| v != "0") => {
            panic!("{test}: PostgreSQL is required (CLERK_REQUIRE_POSTGRES) but cannot start: {reason}")
        }
        Err(reason) => {
            eprintln!("skipped {test}: {reason}");
            None
        }
    }
}
