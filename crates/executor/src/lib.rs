//! The per-task executor process: owns the task's process tree, cgroups, log rotation.
