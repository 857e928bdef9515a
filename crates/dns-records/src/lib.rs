//! DNS records, pure: the Mesos-DNS zone (`mesos.`) and the dcos-dns zone
//! (`thisdcos.directory.`) computed from a snapshot of the master's state and the VIP table,
//! with the sanitisation rules of Mesos-DNS and dcos-net, and the lookup decision the DNS
//! server and the Mesos-DNS HTTP API answer from. No I/O, no clock (the SOA serial is an
//! input).

#![forbid(unsafe_code)]

mod names;
mod records;
mod snapshot;

pub use names::{agent_tail, canonical, dcos_label, domain_frag, spec_label, task_hash, vip_label};
pub use records::{
    DCOS_ZONE, EnumRecord, EnumTask, Lookup, RecordSet, Rrs, ServiceTarget, Srv, Zone, in_zone,
};
pub use snapshot::{
    AgentEntry, Endpoint, FrameworkEntry, NamedVip, Snapshot, TaskEntry, ZoneConfig,
};

#[cfg(test)]
mod tests;
