//! The keel command-line client: tasks and nodes.
