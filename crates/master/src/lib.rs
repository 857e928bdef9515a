//! The master role: agent registry, task lifecycle, allocation, state endpoints.
