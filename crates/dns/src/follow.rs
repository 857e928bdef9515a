//! Keeps the record set current: polls the master's DNS cursor (one lock, no copy) every
//! 100 ms and rebuilds the records when it moved, so a task change shows in DNS well within
//! a second (Mesos-DNS polls every 60 s).

use crate::Records;
use keel_dns_records::{RecordSet, ZoneConfig};
use keel_master::Master;
use std::net::IpAddr;
use std::time::Duration;

/// How often the cursor is checked.
const POLL: Duration = Duration::from_millis(100);

/// Rebuilds `records` from `master` whenever its state moves. Runs until dropped.
pub async fn follow(master: Master, records: Records, zone: ZoneConfig, dns_ips: Vec<IpAddr>) {
    let mut last = None;
    let mut serial: u32 = 1;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if last == Some(master.dns_cursor()) {
            continue;
        }
        let (m, zone, ips) = (master.clone(), zone.clone(), dns_ips.clone());
        let built = tokio::task::spawn_blocking(move || {
            let (cursor, mut snap) = m.dns_snapshot();
            snap.dns_ips = ips;
            (cursor, RecordSet::build(&snap, &zone, serial))
        })
        .await;
        if let Ok((cursor, set)) = built {
            records.replace(set);
            last = Some(cursor);
            serial = serial.wrapping_add(1);
        }
    }
}
