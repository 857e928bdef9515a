//! Keeps the record set current: polls the master's DNS cursor (one lock, no copy) every
//! 100 ms, wakes at once on a new VIP table, and rebuilds the records when either moved, so
//! a task or VIP change shows in DNS well within a second (Mesos-DNS polls every 60 s).

use crate::Records;
use keel_api::vips::VipTable;
use keel_dns_records::{NamedVip, RecordSet, ZoneConfig};
use keel_master::Master;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the cursor is checked.
const POLL: Duration = Duration::from_millis(100);

/// Rebuilds `records` from `master` (and the named VIPs of `vips`, for
/// `<vip>.<fw>.l4lb.thisdcos.directory`) whenever either moves. Runs until dropped.
pub async fn follow(
    master: Master,
    records: Records,
    zone: ZoneConfig,
    dns_ips: Vec<IpAddr>,
    vips: Option<watch::Receiver<Arc<VipTable>>>,
) {
    let mut last = None;
    let mut serial: u32 = 1;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut vips = vips;
    // Whether the table's sender is still there to wake us (else the last table stays).
    let mut live = vips.is_some();
    loop {
        // A new VIP table wakes the loop at once; task changes are seen on the tick.
        tokio::select! {
            _ = tick.tick() => {}
            r = changed(vips.as_mut().filter(|_| live)) => live = r.is_ok(),
        }
        let table = vips.as_mut().map(|v| v.borrow_and_update().clone());
        let version = table.as_ref().map(|t| t.version);
        if last == Some((master.dns_cursor(), version)) {
            continue;
        }
        let (m, zone, ips) = (master.clone(), zone.clone(), dns_ips.clone());
        let built = tokio::task::spawn_blocking(move || {
            let (cursor, mut snap) = m.dns_snapshot();
            snap.dns_ips = ips;
            snap.vips = table.as_deref().map(named_vips).unwrap_or_default();
            (cursor, RecordSet::build(&snap, &zone, serial))
        })
        .await;
        if let Ok((cursor, set)) = built {
            records.replace(set);
            last = Some((cursor, version));
            serial = serial.wrapping_add(1);
        }
    }
}

/// Waits for the next table, forever when there is no receiver.
async fn changed(
    rx: Option<&mut watch::Receiver<Arc<VipTable>>>,
) -> Result<(), watch::error::RecvError> {
    match rx {
        Some(rx) => rx.changed().await,
        None => std::future::pending().await,
    }
}

/// The named VIPs of the table, each (name, framework, address) once (a VIP with several
/// ports or protocols is one DNS name). IP VIPs and unparsable addresses have no name.
pub fn named_vips(t: &VipTable) -> Vec<NamedVip> {
    let set: BTreeSet<(String, String, IpAddr)> = (t.vips.iter())
        .filter(|v| !v.dns_name.is_empty() && !v.framework.is_empty())
        .filter_map(|v| {
            let ip = v.ip.parse::<IpAddr>().ok()?;
            Some((v.label.clone(), v.framework.clone(), ip))
        })
        .collect();
    set.into_iter()
        .map(|(name, framework, ip)| NamedVip {
            name,
            framework,
            ip,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_api::vips::Vip;

    fn vip(label: &str, fw: &str, dns: &str, ip: &str, port: u16) -> Vip {
        Vip {
            label: label.into(),
            framework: fw.into(),
            dns_name: dns.into(),
            ip: ip.into(),
            port,
            protocol: "tcp".into(),
            backends: Vec::new(),
        }
    }

    #[test]
    fn named_vips_are_one_per_name_and_ip_vips_have_none() {
        let t = VipTable {
            version: 3,
            vips: vec![
                vip(
                    "/web",
                    "marathon",
                    "web.marathon.l4lb.thisdcos.directory",
                    "127.77.0.1",
                    80,
                ),
                vip(
                    "/web",
                    "marathon",
                    "web.marathon.l4lb.thisdcos.directory",
                    "127.77.0.1",
                    443,
                ),
                vip("10.1.1.1", "", "", "10.1.1.1", 80),
                vip(
                    "/bad",
                    "marathon",
                    "bad.marathon.l4lb.thisdcos.directory",
                    "nope",
                    80,
                ),
            ],
            problems: Vec::new(),
        };
        let v = named_vips(&t);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].name, "/web");
        assert_eq!(v[0].framework, "marathon");
        assert_eq!(v[0].ip, "127.77.0.1".parse::<IpAddr>().unwrap());
    }
}
