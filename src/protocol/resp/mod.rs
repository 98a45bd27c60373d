//! RESP2/RESP3 frames and inline commands: parser and encoder.
