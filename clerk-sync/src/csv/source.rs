//! Opening a CSV source: a file or bytes, plain or gzip; gzip files are decompressed on a second thread.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

/// Where CSV text comes from. Gzip input is recognised by its magic bytes, whatever the file name.
#[derive(Clone, Debug)]
pub enum CsvSource {
    /// A file.
    Path(PathBuf),
    /// Bytes in memory (tests, uploads).
    Bytes(Arc<[u8]>),
}

impl CsvSource {
    /// The name used in locations: the path, or `name` for bytes.
    pub(crate) fn display_name(&self, name: &str) -> Arc<str> {
        match self {
            CsvSource::Path(p) => Arc::from(p.display().to_string()),
            CsvSource::Bytes(_) => Arc::from(name),
        }
    }

    /// Opens the source for reading, decompressing gzip.
    pub(crate) fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        match self {
            CsvSource::Path(path) => {
                let mut file = BufReader::with_capacity(1 << 16, File::open(path)?);
                if file.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
                    Ok(Box::new(ThreadedGz::spawn(file)))
                } else {
                    Ok(Box::new(file))
                }
            }
            CsvSource::Bytes(bytes) => {
                let cursor = Cursor::new(Arc::clone(bytes));
                if bytes.starts_with(&[0x1f, 0x8b]) {
                    Ok(Box::new(MultiGzDecoder::new(cursor)))
                } else {
                    Ok(Box::new(cursor))
                }
            }
        }
    }
}

const CHUNK: usize = 1 << 20;

/// Reads what a decoder thread decompresses, so that decompression and parsing use two cores.
struct ThreadedGz {
    rx: Receiver<io::Result<Vec<u8>>>,
    /// Empty chunks go back to the decoder thread, so the same few buffers are used over and over.
    recycle: SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ThreadedGz {
    fn spawn<R: Read + Send + 'static>(input: R) -> Self {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(4);
        let (recycle, recycled) = sync_channel::<Vec<u8>>(8);
        std::thread::spawn(move || {
            let mut decoder = MultiGzDecoder::new(input);
            loop {
                let mut chunk = recycled.try_recv().unwrap_or_default();
                chunk.resize(CHUNK, 0);
                let mut filled = 0;
                let result = loop {
                    match decoder.read(&mut chunk[filled..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            if filled == CHUNK {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                chunk.truncate(filled);
                if filled > 0 && tx.send(Ok(chunk)).is_err() {
                    return;
                }
                match result {
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                    Ok(()) if filled < CHUNK => return,
                    Ok(()) => {}
                }
            }
        });
        ThreadedGz { rx, recycle, chunk: Vec::new(), pos: 0 }
    }
}

impl Read for ThreadedGz {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    let old = std::mem::replace(&mut self.chunk, chunk);
                    let _ = self.recycle.try_send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
