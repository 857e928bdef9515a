//! Helpers shared by the end-to-end tests: spawn keel processes, call their APIs.
