//! The agent role: registration, task launch through executors, status updates, files API.
