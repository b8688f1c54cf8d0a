//! A built-in target server for demos and tests.
