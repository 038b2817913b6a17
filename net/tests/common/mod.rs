//! Helpers shared by goro-net's integration tests (each test file is its own process).
use std::io::{Read, Write};

use goro_net::http::{Request, ResponseWriter};

/// Reads the whole request body; on a body error answers 400 with the error and returns
/// `None` (the handler then returns).
pub fn body_or_400(w: &mut ResponseWriter<'_>, r: &mut Request<'_>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    if let Err(e) = r.body().read_to_end(&mut body) {
        w.write_header(400);
        let _ = write!(w, "body error: {e}");
        return None;
    }
    Some(body)
}
