//! DRF allocation of agent resources to roles and frameworks; pure.
