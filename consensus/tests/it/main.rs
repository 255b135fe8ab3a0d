//! Integration tests of comrade-consensus: the components driven directly
//! on a temporary store, without the app.
#![allow(clippy::unwrap_used, missing_docs)]

mod sprints;
